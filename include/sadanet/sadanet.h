// The one header an embedder includes.
#pragma once
#include "sadanet/autograd.h"
#include "sadanet/device.h"
#include "sadanet/dtype.h"
#include "sadanet/error.h"
#include "sadanet/ops.h"
#include "sadanet/optim.h"
#include "sadanet/random.h"
#include "sadanet/runtime.h"
#include "sadanet/tensor.h"
