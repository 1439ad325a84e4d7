#ifndef PASSH_CLIBFUZZER_H
#define PASSH_CLIBFUZZER_H

#include <stddef.h>
#include <stdint.h>

/// Runs libFuzzer's driver (its flags and inputs from argv) on one fuzz test, as libFuzzer's own
/// main() would. SwiftPM gives each executable a main of its own, so the targets call this from theirs.
int passh_fuzz_run(int argc, char **argv, int (*test)(const uint8_t *data, size_t size));

#endif
