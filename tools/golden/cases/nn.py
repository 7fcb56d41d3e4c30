"""PyTorch twins of tests/op_cases/nn_cases.cpp (conv2d, pooling, batch_norm, matmul family)."""
import torch
import torch.nn.functional as F


def _bn(training):
    # Running statistics are cloned, as in the C++ case: train mode updates them in place.
    return lambda x, w, b, rm, rv: F.batch_norm(x, rm.clone(), rv.clone(), w, b, training=training,
                                                momentum=0.1, eps=1e-5)


def _bn_running_update(x, rm, rv):
    rm, rv = rm.clone(), rv.clone()
    F.batch_norm(x, rm, rv, None, None, training=True, momentum=0.1, eps=1e-5)
    return torch.cat([rm, rv], 0)


CASES = {
    "conv2d/1x1": lambda x, w, b: F.conv2d(x, w, b),
    "conv2d/1x1_s2_nobias": lambda x, w: F.conv2d(x, w, None, stride=2),
    "conv2d/3x3_s1": lambda x, w, b: F.conv2d(x, w, b, stride=1, padding=1),
    "conv2d/3x3_s1_nobias": lambda x, w: F.conv2d(x, w, None, stride=1, padding=1),
    "conv2d/3x3_s2": lambda x, w, b: F.conv2d(x, w, b, stride=2, padding=1),
    "conv2d/7x7_s2_p3": lambda x, w, b: F.conv2d(x, w, b, stride=2, padding=3),
    "conv2d/nonsquare": lambda x, w, b: F.conv2d(x, w, b, stride=(2, 1), padding=(1, 0)),
    "conv2d/dilated": lambda x, w: F.conv2d(x, w, None, stride=1, padding=2, dilation=2),

    "max_pool2d/3x3_s2_p1": lambda x: F.max_pool2d(x, 3, 2, 1),
    "max_pool2d/2x2": lambda x: F.max_pool2d(x, 2, 2),
    "max_pool2d/2x2_odd": lambda x: F.max_pool2d(x, 2, 2),
    "global_avg_pool2d/basic": lambda x: F.adaptive_avg_pool2d(x, 1).flatten(1),

    "batch_norm/train_4d": _bn(True),
    "batch_norm/train_2d": _bn(True),
    "batch_norm/eval_4d": _bn(False),
    "batch_norm/eval_2d": _bn(False),
    "batch_norm/frozen_4d": _bn(False),  # frozen: eval's forward; weight and bias still learn
    "batch_norm/eval_noaffine": lambda x, rm, rv: F.batch_norm(x, rm, rv, None, None, training=False, eps=1e-5),
    "batch_norm/train_running_var": _bn_running_update,

    "linear/bias": lambda x, w, b: F.linear(x, w, b),
    "linear/nobias_3d": lambda x, w: F.linear(x, w),
    "matmul/2d": torch.matmul,
    "matmul/1d_1d": torch.matmul,
    "matmul/1d_2d": torch.matmul,
    "matmul/2d_1d": torch.matmul,
    "matmul/1d_batched": torch.matmul,
    "matmul/batched_2d": torch.matmul,
    "matmul/batched_broadcast": torch.matmul,
    "matmul/batched_broadcast_mixed": torch.matmul,
    "matmul/transposed_views": lambda a, b: torch.matmul(a.t(), b.t()),
    "bmm/basic": torch.bmm,
    "bmm/transposed": lambda a, b: torch.bmm(a.transpose(1, 2), b.transpose(1, 2)),
}
