// seqgrad's whole public API in one include: tensors, autograd, layers, optimisers.
// (Link seqgrad_optim, or the library of the highest layer you use.)
#pragma once

#include "autograd/all.h"
#include "nn/all.h"
#include "optim/all.h"
#include "tensor/all.h"
