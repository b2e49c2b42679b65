// The training layer: the Trainer (the one training loop), its callbacks, progress output, and the
// state file that resumes a run.
#pragma once

#include "train/callbacks.h"
#include "train/progress.h"
#include "train/trainer.h"
#include "train/training_state.h"
