//! Why a request was refused. One flat `Copy` enum; every variant maps to exactly one status code.

use crate::response::Status;
use std::fmt;

/// A request the server refuses. After answering with [`Rejection::status`] the server closes the
/// connection: once framing is in doubt, nothing else read from that connection can be trusted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rejection {
    /// The request line is not `method SP request-target SP HTTP-version`.
    BadRequestLine,
    /// A header line is malformed (bad name, bad value, whitespace before the colon, obs-fold).
    BadHeader,
    /// A CR, LF, NUL or other control byte where the grammar forbids it (bare CR, bare LF, …).
    ControlByte,
    /// HTTP/1.1 without a Host header, two Host headers, or an invalid Host value.
    BadHost,
    /// Content-Length is not a number, is list-valued, or is repeated.
    BadContentLength,
    /// Transfer-Encoding is present but is not a single, final `chunked`.
    BadTransferEncoding,
    /// A transfer coding other than `chunked` (gzip, deflate, …): we implement none.
    UnsupportedTransferCoding,
    /// Transfer-Encoding in an HTTP/1.0 request.
    TransferEncodingOnHttp10,
    /// Both Transfer-Encoding and Content-Length (a request-smuggling vector).
    ConflictingFraming,
    /// A bad chunk-size line, chunk terminator or trailer.
    BadChunk,
    /// An `Expect` value other than `100-continue`.
    UnsupportedExpectation,
    /// A method we do not know.
    UnknownMethod,
    /// An HTTP version other than 1.0 or 1.1.
    UnsupportedVersion,
    /// The request target is longer than the limit.
    TargetTooLong,
    /// The head is larger than the limit.
    HeadTooLarge,
    /// More header fields than the limit.
    TooManyHeaders,
    /// A body larger than the limit.
    BodyTooLarge,
    /// The client did not send a whole request in time.
    Timeout,
}

impl Rejection {
    /// The status code answered for this rejection.
    pub fn status(self) -> Status {
        use Rejection::*;
        match self {
            BadRequestLine
            | BadHeader
            | ControlByte
            | BadHost
            | BadContentLength
            | BadTransferEncoding
            | TransferEncodingOnHttp10
            | ConflictingFraming
            | BadChunk => Status::BAD_REQUEST,
            UnsupportedTransferCoding | UnknownMethod => Status::NOT_IMPLEMENTED,
            UnsupportedExpectation => Status::EXPECTATION_FAILED,
            UnsupportedVersion => Status::HTTP_VERSION_NOT_SUPPORTED,
            TargetTooLong => Status::URI_TOO_LONG,
            HeadTooLarge | TooManyHeaders => Status::HEADER_FIELDS_TOO_LARGE,
            BodyTooLarge => Status::PAYLOAD_TOO_LARGE,
            Timeout => Status::REQUEST_TIMEOUT,
        }
    }

    /// A one-line explanation, sent as the body of the error response.
    pub fn reason(self) -> &'static str {
        use Rejection::*;
        match self {
            BadRequestLine => "malformed request line",
            BadHeader => "malformed header field",
            ControlByte => "control character where the grammar forbids it",
            BadHost => "HTTP/1.1 requires exactly one valid Host header",
            BadContentLength => "invalid Content-Length",
            BadTransferEncoding => "Transfer-Encoding must be a single, final chunked",
            UnsupportedTransferCoding => "unsupported transfer coding",
            TransferEncodingOnHttp10 => "Transfer-Encoding is not allowed in HTTP/1.0",
            ConflictingFraming => "both Transfer-Encoding and Content-Length",
            BadChunk => "malformed chunked body",
            UnsupportedExpectation => "only Expect: 100-continue is supported",
            UnknownMethod => "unknown method",
            UnsupportedVersion => "only HTTP/1.0 and HTTP/1.1 are supported",
            TargetTooLong => "request target too long",
            HeadTooLarge => "request header section too large",
            TooManyHeaders => "too many header fields",
            BodyTooLarge => "request body too large",
            Timeout => "request not received in time",
        }
    }
}

impl fmt::Display for Rejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.reason(), self.status().code())
    }
}

impl std::error::Error for Rejection {}
