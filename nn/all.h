// Everything in the nn layer (and the layers beneath it).
#pragma once

#include "autograd/all.h"
#include "nn/cell.h"
#include "nn/cells.h"
#include "nn/cells_composed.h"
#include "nn/checkpoint.h"
#include "nn/conv_encoder.h"
#include "nn/functional.h"
#include "nn/init.h"
#include "nn/layers.h"
#include "nn/mgu.h"
#include "nn/module.h"
#include "nn/recurrent.h"
#include "nn/transformer.h"
