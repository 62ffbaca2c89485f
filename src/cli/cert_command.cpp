// berth cert generate: a self-signed CA and a server certificate signed by it, for tests and
// air-gapped sites (docker: /etc/docker/certs.d/<host:port>/ca.crt; aws: --ca-bundle ca.crt).
#include <arpa/inet.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>
#include <sys/stat.h>

#include <cctype>

#include <cstdio>
#include <filesystem>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "berth/cli/commands.hpp"
#include "berth/cli/failure.hpp"
#include "berth/cli/flags.hpp"
#include "berth/core/ecr_host_names.hpp"

namespace berth::cli {
namespace {

struct pkey_free {
  void operator()(EVP_PKEY* p) const { EVP_PKEY_free(p); }
};
struct x509_free {
  void operator()(X509* x) const { X509_free(x); }
};
using pkey_ptr = std::unique_ptr<EVP_PKEY, pkey_free>;
using x509_ptr = std::unique_ptr<X509, x509_free>;

pkey_ptr new_key() { return pkey_ptr(EVP_EC_gen("P-256")); }

bool add_ext(X509* cert, X509* issuer, int nid, const char* value) {
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
  X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value);
  if (ext == nullptr) return false;
  bool ok = X509_add_ext(cert, ext, -1) == 1;
  X509_EXTENSION_free(ext);
  return ok;
}

x509_ptr make_cert(EVP_PKEY* key, const std::string& cn, X509* issuer, EVP_PKEY* issuer_key, long days, bool ca,
                   const std::string& san) {
  x509_ptr cert(X509_new());
  X509_set_version(cert.get(), 2);
  unsigned char serial[16];
  RAND_bytes(serial, sizeof serial);
  serial[0] &= 0x7f;
  BIGNUM* bn = BN_bin2bn(serial, sizeof serial, nullptr);
  BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(cert.get()));
  BN_free(bn);
  X509_gmtime_adj(X509_getm_notBefore(cert.get()), -3600);
  X509_gmtime_adj(X509_getm_notAfter(cert.get()), days * 86400L);
  X509_set_pubkey(cert.get(), key);
  X509_NAME* name = X509_get_subject_name(cert.get());
  X509_NAME_add_entry_by_txt(name, "O", MBSTRING_ASC, reinterpret_cast<const unsigned char*>("Berth"), -1, -1, 0);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, reinterpret_cast<const unsigned char*>(cn.c_str()), -1, -1, 0);
  X509_set_issuer_name(cert.get(), issuer ? X509_get_subject_name(issuer) : name);
  X509* signer = issuer ? issuer : cert.get();
  bool ok = true;
  if (ca) {
    ok = ok && add_ext(cert.get(), signer, NID_basic_constraints, "critical,CA:TRUE,pathlen:0");
    ok = ok && add_ext(cert.get(), signer, NID_key_usage, "critical,keyCertSign,cRLSign");
  } else {
    ok = ok && add_ext(cert.get(), signer, NID_basic_constraints, "critical,CA:FALSE");
    ok = ok && add_ext(cert.get(), signer, NID_key_usage, "critical,digitalSignature,keyEncipherment");
    ok = ok && add_ext(cert.get(), signer, NID_ext_key_usage, "serverAuth");
    ok = ok && add_ext(cert.get(), signer, NID_subject_alt_name, san.c_str());
  }
  ok = ok && add_ext(cert.get(), signer, NID_subject_key_identifier, "hash");
  if (!ok || X509_sign(cert.get(), issuer_key ? issuer_key : key, EVP_sha256()) == 0) return nullptr;
  return cert;
}

bool write_pem(const std::filesystem::path& path, X509* cert, EVP_PKEY* key) {
  FILE* f = std::fopen(path.c_str(), "w");
  if (f == nullptr) return false;
  if (key != nullptr) ::fchmod(fileno(f), 0600);
  bool ok =
      cert ? PEM_write_X509(f, cert) == 1 : PEM_write_PrivateKey(f, key, nullptr, nullptr, 0, nullptr, nullptr) == 1;
  return std::fclose(f) == 0 && ok;
}

bool is_ip(const std::string& h) {
  unsigned char buf[16];
  return inet_pton(AF_INET, h.c_str(), buf) == 1 || inet_pton(AF_INET6, h.c_str(), buf) == 1;
}

// A DNS name of letter-digit-hyphen labels (RFC 1123), or an IP address.
bool is_valid_host(const std::string& h) {
  if (is_ip(h)) return true;
  if (h.empty() || h.size() > 253) return false;
  std::size_t start = 0;
  for (;;) {
    auto dot = h.find('.', start);
    auto label = h.substr(start, dot == std::string::npos ? std::string::npos : dot - start);
    if (label.empty() || label.size() > 63 || label.front() == '-' || label.back() == '-') return false;
    for (char c : label) {
      if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-') return false;
    }
    if (dot == std::string::npos) return true;
    start = dot + 1;
  }
}

}  // namespace

int cert_command(const std::vector<std::string>& args) {
  const char* help =
      "Usage: berth cert generate --hostname NAME [--out DIR] [--force]\n"
      "       berth cert generate --ecr-hostnames --account ID --region REGION [--hostname NAME] [--out DIR] "
      "[--force]\n\n"
      "Writes DIR/ca.crt, DIR/ca.key, DIR/server.crt (server + CA chain) and DIR/server.key (keys mode 0600).\n"
      "The server certificate names NAME, localhost, 127.0.0.1 and ::1; with --ecr-hostnames also ECR's own\n"
      "names for the account and region: ID.dkr.ecr.REGION.amazonaws.com, api.ecr.REGION.amazonaws.com,\n"
      "ecr.REGION.amazonaws.com, sts.REGION.amazonaws.com, sts.amazonaws.com, iam.amazonaws.com and\n"
      "secretsmanager.REGION.amazonaws.com. Serve with\n"
      "  berth serve --tls-cert DIR/server.crt --tls-key DIR/server.key\n"
      "and give clients DIR/ca.crt (docker: /etc/docker/certs.d/HOST:PORT/ca.crt; aws: --ca-bundle).\n";
  if (args.empty() || args[0] != "generate") {
    std::cout << help;
    return args.empty() ? 2 : (args[0] == "--help" || args[0] == "-h" ? 0 : 2);
  }
  auto flags = parse_flags({args.begin() + 1, args.end()}, {"hostname", "out", "account", "region"},
                           {"force", "ecr-hostnames"}, "cert generate");
  if (!flags) return fail(flags.error_value().message);
  if (flags->help) {
    std::cout << help;
    return 0;
  }
  auto host = flags->values.count("hostname") ? flags->values["hostname"] : std::string();
  const bool ecr = flags->values.count("ecr-hostnames") > 0;
  std::vector<std::string> names;
  if (ecr) {
    auto account = flags->values.count("account") ? flags->values["account"] : std::string();
    auto region = flags->values.count("region") ? flags->values["region"] : std::string();
    if (!is_account_id(account)) {
      return fail("--ecr-hostnames needs --account ID, the 12-digit account id the registry serves");
    }
    if (!is_region(region)) {
      return fail("--ecr-hostnames needs --region REGION, e.g. us-east-1");
    }
    names = ecr_host_names(account, region);
  } else if (flags->values.count("account") || flags->values.count("region")) {
    return fail("--account and --region go with --ecr-hostnames");
  } else if (host.empty()) {
    return fail("--hostname NAME is required (or --ecr-hostnames --account ID --region REGION)");
  }
  if (!host.empty() && !is_valid_host(host)) {
    return fail("'" + host + "' is not a host name or IP address (no port: the certificate names the host only)");
  }
  if (!host.empty()) names.push_back(host);
  const std::string& subject = names.front();
  std::filesystem::path out = flags->values.count("out") ? flags->values["out"] : ".";
  if (std::filesystem::exists(out / "ca.key") && !flags->values.count("force")) {
    // Replacing a CA that clients already trust would break every one of them.
    return fail((out / "ca.key").string() + " exists; use --force to replace the CA and certificate");
  }
  std::error_code ec;
  std::filesystem::create_directories(out, ec);
  if (ec) return fail("cannot create " + out.string() + ": " + ec.message());

  auto ca_key = new_key();
  auto server_key = new_key();
  if (!ca_key || !server_key) return fail("key generation failed");
  auto ca = make_cert(ca_key.get(), "Berth CA for " + subject, nullptr, nullptr, 3650, true, "");
  std::string san;
  for (const auto& n : names) san += std::string(is_ip(n) ? "IP:" : "DNS:") + n + ",";
  san += "DNS:localhost,IP:127.0.0.1,IP:::1";
  auto server = make_cert(server_key.get(), subject, ca.get(), ca_key.get(), 825, false, san);
  if (!ca || !server) return fail("certificate generation failed");
  bool ok = write_pem(out / "ca.key", nullptr, ca_key.get()) && write_pem(out / "ca.crt", ca.get(), nullptr) &&
            write_pem(out / "server.key", nullptr, server_key.get());
  if (ok) {
    // The served chain: the server certificate, then its CA.
    FILE* f = std::fopen((out / "server.crt").c_str(), "w");
    ok = f && PEM_write_X509(f, server.get()) == 1 && PEM_write_X509(f, ca.get()) == 1;
    if (f) ok = std::fclose(f) == 0 && ok;
  }
  if (!ok) return fail("cannot write the certificates into " + out.string());
  std::string listed;
  for (const auto& n : names) listed += (listed.empty() ? "" : ", ") + n;
  std::printf("wrote %s/{ca.crt,ca.key,server.crt,server.key} for %s\n", out.c_str(), listed.c_str());
  return 0;
}

}  // namespace berth::cli
