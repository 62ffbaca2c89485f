// berth: subcommand dispatch only.
#include <csignal>
#include <cstdio>
#include <exception>
#include <string>
#include <vector>

#include "berth/cli/commands.hpp"

namespace {

constexpr const char* usage =
    R"(Berth: a container registry speaking the Docker Registry V2 / OCI distribution API (docker,
podman, skopeo, containerd) and the Amazon ECR API (aws ecr, boto3, the AWS SDKs with --endpoint-url),
with IAM, STS and Secrets Manager subsets, on one port.

Usage: berth <command> [options]

Commands:
  serve        run the registry (berth serve --help)
  gc           remove unreferenced blobs, online (berth gc --help)
  fsck         verify blobs and references (berth fsck --help)
  health       ask a running server /healthz or /readyz (berth health --help)
  lifecycle    run lifecycle policies now (berth lifecycle run --help)
  usage        disk usage per repository (berth usage --help)
  backup       back up a registry, also while it serves (berth backup --help)
  restore      build a new data directory from a backup (berth restore --help)
  repo         list repositories (berth repo list)
  image        list a repository's images (berth image list REPOSITORY)
  cert         make a self-signed CA and server certificate (berth cert generate --help)
  user         IAM users: create, list, set, delete (berth user --help)
  key          access keys: create (the secret is shown once), list, update, delete
  policy       identity, repository and registry policies: put, get, list, delete

Options:
  --version    print the version
  -h, --help   show this help
)";

}  // namespace

int main(int argc, char** argv) {
  // A peer that closes mid-response must cost a write error, not the process (sendfile(2) has no
  // MSG_NOSIGNAL).
  std::signal(SIGPIPE, SIG_IGN);
  std::vector<std::string> args(argv + 1, argv + argc);
  if (args.empty() || args[0] == "-h" || args[0] == "--help" || args[0] == "help") {
    std::fputs(usage, args.empty() ? stderr : stdout);
    return args.empty() ? 2 : 0;
  }
  if (args[0] == "--version" || args[0] == "version") {
    std::printf("berth %s\n", BERTH_VERSION);
    return 0;
  }
  try {
    std::vector<std::string> rest(args.begin() + 1, args.end());
    if (args[0] == "serve") return berth::cli::serve_command(rest);
    if (args[0] == "gc") return berth::cli::gc_command(rest);
    if (args[0] == "fsck") return berth::cli::fsck_command(rest);
    if (args[0] == "health") return berth::cli::health_command(rest);
    if (args[0] == "lifecycle") return berth::cli::lifecycle_command(rest);
    if (args[0] == "usage") return berth::cli::usage_command(rest);
    if (args[0] == "backup") return berth::cli::backup_command(rest);
    if (args[0] == "restore") return berth::cli::restore_command(rest);
    if (args[0] == "repo") return berth::cli::repo_command(rest);
    if (args[0] == "image") return berth::cli::image_command(rest);
    if (args[0] == "cert") return berth::cli::cert_command(rest);
    if (args[0] == "user") return berth::cli::user_command(rest);
    if (args[0] == "key") return berth::cli::key_command(rest);
    if (args[0] == "policy") return berth::cli::policy_command(rest);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "berth: %s\n", e.what());
    return 1;
  }
  std::fprintf(stderr, "berth: unknown command '%s' (see berth --help)\n", args[0].c_str());
  return 2;
}
