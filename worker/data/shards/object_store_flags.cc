#include "worker/data/shards/object_store_flags.h"

#include <CLI/CLI.hpp>

namespace mw {

void AddObjectStoreFlags(CLI::App& app, ObjectStoreFlags* flags) {
  ObjectStoreOptions& o = flags->options;
  app.add_option("--s3-endpoint", o.s3_endpoint,
                 "the S3 endpoint s3:// datasets are read from, e.g. https://s3.amazonaws.com")
      ->envname("MW_S3_ENDPOINT");
  app.add_option("--s3-region", o.s3_region, "the region S3 requests are signed for")
      ->envname("MW_S3_REGION");
  app.add_option("--s3-credentials-dir", flags->credentials_dir,
                 "a directory holding access_key_id and secret_access_key (a mounted Secret); "
                 "default: AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY")
      ->envname("MW_S3_CREDENTIALS_DIR");
  app.add_option("--data-stall-timeout-s", o.stall_timeout_s,
                 "a dataset read that moves no byte this long is retried")
      ->envname("MW_DATA_STALL_TIMEOUT_S")
      ->check(CLI::Range(1.0, 3600.0));
  app.add_option("--data-attempts", o.max_attempts,
                 "tries of one dataset read before it fails the task")
      ->envname("MW_DATA_ATTEMPTS")
      ->check(CLI::Range(1, 100));
}

Status ResolveObjectStoreFlags(ObjectStoreFlags* flags) {
  return flags->options.LoadCredentials(flags->credentials_dir);
}

}  // namespace mw
