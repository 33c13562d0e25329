/* SPDX-License-Identifier: Apache-2.0 */
/*
 * cli_limits.c - the resource-limit options (--max-file-bytes,
 * --max-pixels, --max-model-bytes, --max-tensors, --max-operators,
 * --max-batch-bytes) shared by `imgstream classify` and `imgstream
 * stream`, into an ims_limits (include/imgstream/limits.h). Each
 * subcommand lists the entries it takes in its own alphasorted option
 * table; this file parses them.
 *
 * Threading: the tool's one thread.
 */
#include <getopt.h>

#include "cli/cli_int.h"
#include "imgstream/limits.h"

int cli_limits_option(const char *cmd, int c, ims_limits *l) {
  const uint64_t huge = UINT64_MAX / 4;
  uint64_t v = 0;
  int rc;
  switch (c) {
    case CLI_OPT_MAX_BATCH_BYTES:
      return cli_parse_u64(cmd, "max-batch-bytes", optarg, 1, huge,
                           &l->max_batch_bytes) == 0
                 ? 1
                 : -1;
    case CLI_OPT_MAX_FILE_BYTES:
      return cli_parse_u64(cmd, "max-file-bytes", optarg, 1, huge,
                           &l->max_file_bytes) == 0
                 ? 1
                 : -1;
    case CLI_OPT_MAX_MODEL_BYTES:
      return cli_parse_u64(cmd, "max-model-bytes", optarg, 1, huge,
                           &l->max_model_bytes) == 0
                 ? 1
                 : -1;
    case CLI_OPT_MAX_OPERATORS:
      rc = cli_parse_u64(cmd, "max-operators", optarg, 1, UINT32_MAX, &v);
      l->max_operators = (uint32_t)v;
      return rc == 0 ? 1 : -1;
    case CLI_OPT_MAX_PIXELS:
      return cli_parse_u64(cmd, "max-pixels", optarg, 1, huge,
                           &l->max_pixels) == 0
                 ? 1
                 : -1;
    case CLI_OPT_MAX_TENSORS:
      rc = cli_parse_u64(cmd, "max-tensors", optarg, 1, UINT32_MAX, &v);
      l->max_tensors = (uint32_t)v;
      return rc == 0 ? 1 : -1;
    default:
      return 0;
  }
}
