// Everything in the nn layer (and the layers beneath it).
#pragma once

#include "autograd/all.h"
#include "nn/checkpoint.h"
#include "nn/functional.h"
#include "nn/init.h"
#include "nn/layers.h"
#include "nn/module.h"
