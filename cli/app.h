// The `seqgrad` program as a function: what main() calls.
#pragma once

namespace seqgrad::cli {

// Loads the --plugin libraries (before the options are declared, so that a plugin's models bring
// their options), parses, runs the subcommand. Errors print one line and return non-zero.
int run(int argc, char** argv);

// The machine's cores (what --threads defaults to).
int default_threads();

}  // namespace seqgrad::cli
