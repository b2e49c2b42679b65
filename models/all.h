// The models: the EncoderDecoder interface, the registered encoder-decoders (cho, seq2seq,
// attention), their decoding, evaluation and checkpoints, and the Fashion-MNIST CNN.
#pragma once

#include "models/attention.h"
#include "models/attention_map.h"
#include "models/cho.h"
#include "models/cnn.h"
#include "models/encoder_decoder.h"
#include "models/evaluate.h"
#include "models/registry.h"
#include "models/seq2seq.h"
#include "models/seq2seq_io.h"
#include "models/transformer.h"
