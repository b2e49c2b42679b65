// Everything in the tensor layer.
#pragma once

#include "tensor/allocator.h"
#include "tensor/cpu.h"
#include "tensor/creation.h"
#include "tensor/dims.h"
#include "tensor/dtype.h"
#include "tensor/elementwise.h"
#include "tensor/error.h"
#include "tensor/format.h"
#include "tensor/linalg.h"
#include "tensor/parallel.h"
#include "tensor/random.h"
#include "tensor/reduce.h"
#include "tensor/shape_ops.h"
#include "tensor/tensor.h"
