// seqgrad: the command-line program. `seqgrad --help` lists the subcommands.
#include "cli/commands.h"

int main(int argc, char** argv) { return seqgrad::cli::run(argc, argv); }
