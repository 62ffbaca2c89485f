#include "berth/registry/error.hpp"

namespace berth {

const char* to_string(errc code) {
  switch (code) {
    case errc::blob_unknown: return "blob_unknown";
    case errc::blob_upload_invalid: return "blob_upload_invalid";
    case errc::blob_upload_unknown: return "blob_upload_unknown";
    case errc::upload_out_of_order: return "upload_out_of_order";
    case errc::digest_invalid: return "digest_invalid";
    case errc::manifest_blob_unknown: return "manifest_blob_unknown";
    case errc::manifest_invalid: return "manifest_invalid";
    case errc::manifest_unknown: return "manifest_unknown";
    case errc::manifest_too_large: return "manifest_too_large";
    case errc::name_invalid: return "name_invalid";
    case errc::name_unknown: return "name_unknown";
    case errc::size_invalid: return "size_invalid";
    case errc::tag_invalid: return "tag_invalid";
    case errc::range_invalid: return "range_invalid";
    case errc::pagination_number_invalid: return "pagination_number_invalid";
    case errc::unsupported: return "unsupported";
    case errc::too_many_requests: return "too_many_requests";
    case errc::unauthorized: return "unauthorized";
    case errc::denied: return "denied";
    case errc::storage_full: return "storage_full";
    case errc::internal: return "internal";
  }
  return "internal";
}

}  // namespace berth
