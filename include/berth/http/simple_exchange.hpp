// Ready-made exchanges for handlers that need no streaming: a function of the request.
#pragma once

#include <functional>
#include <memory>

#include "berth/http/message.hpp"

namespace berth::http {

class function_exchange final : public exchange {
 public:
  using fn = std::function<response(request&)>;
  function_exchange(fn f, bool blocking) : f_(std::move(f)), blocking_(blocking) {}
  response finish(request& req) override { return f_(req); }
  bool blocking() const override { return blocking_; }

 private:
  fn f_;
  bool blocking_;
};

// The body is read whole (up to `limit`) before `f` runs.
class buffered_exchange final : public exchange {
 public:
  using fn = std::function<response(request&)>;
  buffered_exchange(std::size_t limit, fn f, std::function<response()> too_large, bool blocking,
                    std::function<response()> malformed = nullptr)
      : limit_(limit),
        f_(std::move(f)),
        too_large_(std::move(too_large)),
        malformed_(std::move(malformed)),
        blocking_(blocking) {}
  body_mode mode() const override { return body_mode::buffered; }
  std::size_t body_limit() const override { return limit_; }
  response too_large() override { return too_large_(); }
  response malformed_body() override { return malformed_ ? malformed_() : exchange::malformed_body(); }
  response finish(request& req) override { return f_(req); }
  bool blocking() const override { return blocking_; }

 private:
  std::size_t limit_;
  fn f_;
  std::function<response()> too_large_;
  std::function<response()> malformed_;
  bool blocking_;
};

inline std::unique_ptr<exchange> respond_with(response r) {
  return std::make_unique<function_exchange>([r = std::move(r)](request&) { return r; }, false);
}

}  // namespace berth::http
