#include "train_fixture.h"

namespace sadanet::test {

ScratchDir* TrainRun::data_ = nullptr;

}  // namespace sadanet::test
