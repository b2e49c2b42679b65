// seqgrad's core public API in one include: tensors, autograd, layers, optimisers and the Trainer.
// (Link seqgrad_train, or the library of the highest layer you use. The data sets, the models and
// their registry are in data/ and models/: include their headers and link seqgrad_data,
// seqgrad_models_all.)
#pragma once

#include "autograd/all.h"
#include "nn/all.h"
#include "optim/all.h"
#include "tensor/all.h"
#include "train/all.h"
