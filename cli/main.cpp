// seqgrad: the command-line program. `seqgrad --help` lists the subcommands.
#include "cli/app.h"

int main(int argc, char** argv) { return seqgrad::cli::run(argc, argv); }
