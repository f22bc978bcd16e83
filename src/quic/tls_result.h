#pragma once

#include <cassert>
#include <string>
#include <utility>
#include <variant>

#include "coding/error.h"

namespace moq::quic {

// What went wrong while setting up TLS. Start-up errors (files, PEM, key
// pairs) are reported to the operator; none of them aborts the process.
enum class TlsErrc {
  kIo,               // a file could not be read or written
  kBadPem,           // not a PEM certificate / private key gnutls can parse
  kKeyMismatch,      // the private key does not belong to the leaf certificate
  kCountMismatch,    // --tls-cert and --tls-key given a different number of times
  kNoCertificate,    // a server context needs at least one certificate
  kBadFingerprint,   // a pinned fingerprint that is not 64 hex digits
  kInvalidArgument,  // any other unusable setting (empty ALPN, bad host, ...)
  kGnutls,           // an unexpected GnuTLS failure
};

const char* to_string(TlsErrc errc);

struct TlsError {
  TlsErrc errc = TlsErrc::kGnutls;
  std::string message;

  // As a wire error (500, "tls: <message>") for code that speaks moq::Error.
  Error to_error() const { return Error::internal("tls: " + message); }
  friend bool operator==(const TlsError&, const TlsError&) = default;
};

// A value or a TlsError. (C++20 has no std::expected.)
template <class T>
class TlsResult {
 public:
  TlsResult(T value) : v_(std::in_place_index<0>, std::move(value)) {}
  TlsResult(TlsError error) : v_(std::in_place_index<1>, std::move(error)) {}

  bool ok() const { return v_.index() == 0; }
  explicit operator bool() const { return ok(); }

  T& value() & {
    assert(ok());
    return std::get<0>(v_);
  }
  const T& value() const& {
    assert(ok());
    return std::get<0>(v_);
  }
  T&& value() && {
    assert(ok());
    return std::get<0>(std::move(v_));
  }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T&& operator*() && { return std::move(*this).value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }

  const TlsError& error() const {
    assert(!ok());
    return std::get<1>(v_);
  }

 private:
  std::variant<T, TlsError> v_;
};

template <>
class TlsResult<void> {
 public:
  TlsResult() = default;
  TlsResult(TlsError error) : error_(std::move(error)), ok_(false) {}

  bool ok() const { return ok_; }
  explicit operator bool() const { return ok_; }
  const TlsError& error() const {
    assert(!ok_);
    return error_;
  }

 private:
  TlsError error_;
  bool ok_ = true;
};

}  // namespace moq::quic
