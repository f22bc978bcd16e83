#include "h3/error.h"

namespace moq::h3 {

std::string_view error_name(uint64_t code) {
  switch (code) {
    case error::kNoError:
      return "H3_NO_ERROR";
    case error::kGeneralProtocolError:
      return "H3_GENERAL_PROTOCOL_ERROR";
    case error::kInternalError:
      return "H3_INTERNAL_ERROR";
    case error::kStreamCreationError:
      return "H3_STREAM_CREATION_ERROR";
    case error::kClosedCriticalStream:
      return "H3_CLOSED_CRITICAL_STREAM";
    case error::kFrameUnexpected:
      return "H3_FRAME_UNEXPECTED";
    case error::kFrameError:
      return "H3_FRAME_ERROR";
    case error::kExcessiveLoad:
      return "H3_EXCESSIVE_LOAD";
    case error::kIdError:
      return "H3_ID_ERROR";
    case error::kSettingsError:
      return "H3_SETTINGS_ERROR";
    case error::kMissingSettings:
      return "H3_MISSING_SETTINGS";
    case error::kRequestRejected:
      return "H3_REQUEST_REJECTED";
    case error::kRequestCancelled:
      return "H3_REQUEST_CANCELLED";
    case error::kRequestIncomplete:
      return "H3_REQUEST_INCOMPLETE";
    case error::kMessageError:
      return "H3_MESSAGE_ERROR";
    case error::kConnectError:
      return "H3_CONNECT_ERROR";
    case error::kVersionFallback:
      return "H3_VERSION_FALLBACK";
    case error::kQpackDecompressionFailed:
      return "QPACK_DECOMPRESSION_FAILED";
    case error::kQpackEncoderStreamError:
      return "QPACK_ENCODER_STREAM_ERROR";
    case error::kQpackDecoderStreamError:
      return "QPACK_DECODER_STREAM_ERROR";
    case error::kDatagramError:
      return "H3_DATAGRAM_ERROR";
    default:
      return "unknown";
  }
}

bool is_known_error(uint64_t code) {
  return error_name(code) != "unknown";
}

}  // namespace moq::h3
