// tests/terminal_test_util.h: what a terminal shows for the bytes a program wrote to it, for the tests
// of the progress line: "\r" returns to the line's start, "\033[K" erases to its end, "\n" ends it;
// other escape sequences (colours: "\033[32m") are dropped; characters overwrite from the cursor.
#pragma once
#include <string>
#include <vector>

namespace stride::test {

inline std::vector<std::string> terminal_lines(const std::string& bytes) {
    std::vector<std::string> lines;
    std::string line;
    size_t col = 0;
    for (size_t i = 0; i < bytes.size(); ++i) {
        const char c = bytes[i];
        if (c == '\r') {
            col = 0;
        } else if (c == '\n') {
            lines.push_back(line);
            line.clear();
            col = 0;
        } else if (c == '\033' && i + 1 < bytes.size() && bytes[i + 1] == '[') {
            size_t j = i + 2;
            while (j < bytes.size() && !(bytes[j] >= '@' && bytes[j] <= '~')) ++j;
            if (j < bytes.size() && bytes[j] == 'K') line.resize(std::min(line.size(), col));
            i = j;
        } else {
            if (col < line.size())
                line[col] = c;
            else
                line.push_back(c);
            ++col;
        }
    }
    if (!line.empty()) lines.push_back(line);
    return lines;
}

}  // namespace stride::test
