// Everything in the autograd layer (and the tensor layer beneath it).
#pragma once

#include "autograd/anomaly.h"
#include "autograd/dot.h"
#include "autograd/engine.h"
#include "autograd/functional.h"
#include "autograd/functions.h"
#include "autograd/grad_mode.h"
#include "autograd/gradcheck.h"
#include "autograd/node.h"
#include "autograd/variable.h"
#include "tensor/all.h"
