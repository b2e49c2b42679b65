#include "autograd/grad_mode.h"

namespace seqgrad {
thread_local bool GradMode::enabled_ = true;
}
