// Text that came from outside (a server's document, a JWK, a token, a certificate, an HTTP header
// or error message) made safe to show on an operator's terminal, in a log line or in JSON that a
// script prints with `jq -r`.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace oidcgw {

// Returns `text` with everything a terminal could act on, or that is not text, escaped visibly:
//   - C0 controls (U+0000-U+001F, tab and newline included) and DEL as \xNN ("\x1b", "\x7f");
//   - C1 controls (U+0080-U+009F, e.g. CSI U+009B), the bidirectional formatting characters
//     (U+061C, U+200E, U+200F, U+202A-U+202E, U+2066-U+2069) and the line and paragraph
//     separators (U+2028, U+2029) as \uNNNN ("\u009b");
//   - every byte that is not part of a well-formed UTF-8 sequence (a stray continuation byte, a
//     truncated sequence, an overlong encoding, a surrogate, a code point above U+10FFFF) as
//     \xNN ("\xff"), decoding resuming at the next byte.
// Everything else, printable ASCII and well-formed multibyte UTF-8 alike, is kept as it is. The
// result is always well-formed UTF-8 and escaping it again changes nothing, so a renderer may run
// it over text that was already escaped. Backslashes and quotes are not escaped: put a value
// between quotes with quote_untrusted.
std::string escape_untrusted(std::string_view text);

// `text` between double quotes for a message: escaped as by escape_untrusted, with `"` and `\`
// escaped as \" and \\ as well so that the quotes delimit it unambiguously. When the result would
// be longer than `max_bytes` (quotes included), it stops at the last whole character or escape
// that fits and ends with ...". An empty string gives "".
std::string quote_untrusted(std::string_view text, std::size_t max_bytes = 120);

// A file path (or a certificate subject) for a message: quoted as above, with room for any real
// path, so that the operator sees the whole name of the file a message is about.
std::string quote_path(std::string_view path);

// The policy's two judgements, for renderers that spell their escapes their own way (the
// logger's JSON and logfmt lines): escape_untrusted escapes exactly the C0 controls and DEL, the
// bytes utf8_sequence_length refuses, and the code points is_unsafe_code_point names.
//
// The length (1-4) of the well-formed UTF-8 sequence at the start of `text`, with its code point
// in *code; 0 when the bytes there are not one (a stray continuation byte, an overlong form, a
// surrogate, a code point above U+10FFFF, a sequence cut short) or `text` is empty.
std::size_t utf8_sequence_length(std::string_view text, std::uint32_t* code);

// Well-formed, yet a terminal acts on it or shows it as something else: the C1 controls, the
// bidirectional formatting characters and the line and paragraph separators.
bool is_unsafe_code_point(std::uint32_t code);

}  // namespace oidcgw
