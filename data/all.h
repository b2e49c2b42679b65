// The data layer: vocabularies and batches, the built-in tasks, TSV pairs, CMUdict (g2p), IDX
// images, the training data that `seqgrad train` samples from, and BLEU and chrF.
#pragma once

#include "data/edit_distance.h"
#include "data/g2p.h"
#include "data/idx.h"
#include "data/seq2seq_batch.h"
#include "data/tasks.h"
#include "data/text_metrics.h"
#include "data/training_data.h"
#include "data/tsv.h"
