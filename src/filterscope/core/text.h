// Small text helpers: the commands' list flags, and quoting outside text in one-line messages.
#pragma once
#include <string>
#include <string_view>
#include <vector>

namespace filterscope {

/// The non-empty items of a comma-separated list: "a,,b" -> {"a", "b"}.
std::vector<std::string> split_list(const std::string& text);

/// Text from a file or a request as it may appear in a one-line message: control characters and
/// bytes outside printable ASCII become '?', and more than `max_chars` characters end in "...".
std::string printable(std::string_view text, size_t max_chars = 80);

/// `message` without a leading "`prefix`: " (an Error's own naming of a file, when the caller
/// names it again with more context).
std::string without_prefix(const std::string& message, const std::string& prefix);

/// The candidate closest to `word` by edit distance (insertions, deletions, substitutions and
/// swaps of neighbours), when it is within a third of the word's length (at least 1); "" otherwise.
/// What "did you mean" suggests for a mistyped command or flag.
std::string closest_match(const std::string& word, const std::vector<std::string>& candidates);

/// A share as the console prints it: 0.1234 -> "12.3%", "n/a" when not finite.
std::string percent(double share);

}  // namespace filterscope
