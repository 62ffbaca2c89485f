// The TLS server context: TLS 1.2 and 1.3 only, forward-secret AEAD suites only (private header).
#pragma once

#include <boost/asio/ssl.hpp>
#include <memory>
#include <string>

namespace berth::http {

// nullptr with `err` set when the files cannot be used.
std::shared_ptr<boost::asio::ssl::context> make_tls_context(const std::string& cert, const std::string& key,
                                                            std::string& err);

}  // namespace berth::http
