// seqgrad's whole public API in one include.
#pragma once

#include "autograd/all.h"
#include "tensor/all.h"
