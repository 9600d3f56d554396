// code_exec's pure parts: the label's test cases, the program in a response, output comparison.
#include <algorithm>
#include <cctype>
#include <cmath>

#include "common/base/error.h"
#include "reward/code_exec/code_exec.h"
#include "reward/identifier.h"

namespace stride {

namespace {

using nlohmann::json;

const char* kLabelForms =
    "{\"tests\": [{\"input\": ..., \"output\": ...}]}, {\"inputs\": [...], \"outputs\": [...]} (either with "
    "an "
    "optional \"fn_name\") or {\"asserts\": [\"assert ...\"]}";

void add_case(CodeTests& t, const json& input, const json& output, size_t i) {
    if (t.mode == CodeTests::stdio)
        STRIDE_CHECK(input.is_string() && output.is_string(),
                     "label: test " + std::to_string(i + 1) +
                         ": stdin/stdout tests need string input and output (or set fn_name)");
    t.inputs.push_back(input);
    t.outputs.push_back(output);
}

std::string lower(std::string s) {
    for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return s;
}

std::string rtrim(const std::string& s) {
    size_t end = s.find_last_not_of(" \t\r\f\v");
    return end == std::string::npos ? "" : s.substr(0, end + 1);
}

std::vector<std::string> normalised_lines(const std::string& text) {
    std::vector<std::string> lines;
    size_t start = 0;
    while (start <= text.size()) {
        size_t nl = text.find('\n', start);
        if (nl == std::string::npos) nl = text.size();
        lines.push_back(rtrim(text.substr(start, nl - start)));
        start = nl + 1;
    }
    while (!lines.empty() && lines.back().empty()) lines.pop_back();
    return lines;
}

}  // namespace

CodeTests parse_code_tests(const std::string& label) {
    json j = json::parse(label, nullptr, false);
    if (!j.is_discarded() && j.is_string()) j = json::parse(j.get<std::string>(), nullptr, false);
    STRIDE_CHECK(!j.is_discarded() && j.is_object(),
                 std::string("label: code_exec needs a JSON object: ") + kLabelForms);
    const bool tests = j.contains("tests"), io = j.contains("inputs") || j.contains("outputs"),
               asserts = j.contains("asserts");
    STRIDE_CHECK(tests + io + asserts == 1,
                 std::string("label: needs exactly one of \"tests\", \"inputs\"/\"outputs\", \"asserts\": ") +
                     kLabelForms);
    CodeTests t;
    if (asserts) {
        const json& a = j["asserts"];
        STRIDE_CHECK(a.is_array() && !a.empty(), "label: \"asserts\" must be a non-empty list of strings");
        for (const json& s : a) {
            STRIDE_CHECK(s.is_string(), "label: \"asserts\" must be a non-empty list of strings");
            t.inputs.push_back(s);
        }
        t.mode = CodeTests::asserts;
        return t;
    }
    if (j.contains("fn_name") && !j["fn_name"].is_null()) {
        STRIDE_CHECK(j["fn_name"].is_string() && is_identifier(j["fn_name"].get<std::string>()),
                     "label: \"fn_name\" must be a Python identifier");
        t.fn_name = j["fn_name"].get<std::string>();
        t.mode = CodeTests::call;
    }
    if (tests) {
        const json& list = j["tests"];
        STRIDE_CHECK(list.is_array() && !list.empty(), "label: \"tests\" must be a non-empty list");
        for (size_t i = 0; i < list.size(); ++i) {
            const json& c = list[i];
            STRIDE_CHECK(c.is_object() && c.contains("input") && c.contains("output"),
                         "label: test " + std::to_string(i + 1) + " needs \"input\" and \"output\"");
            add_case(t, c["input"], c["output"], i);
        }
    } else {
        const json& in = j.value("inputs", json());
        const json& out = j.value("outputs", json());
        STRIDE_CHECK(in.is_array() && out.is_array() && !in.empty() && in.size() == out.size(),
                     "label: \"inputs\" and \"outputs\" must be non-empty lists of the same length");
        for (size_t i = 0; i < in.size(); ++i) add_case(t, in[i], out[i], i);
    }
    return t;
}

std::optional<std::string> extract_program(const std::string& response) {
    // Fenced blocks: ``` + info string up to the line end, then the body up to the next ``` (or the end
    // of a response cut off by the length limit).
    std::optional<std::string> python, plain;
    size_t pos = 0;
    while ((pos = response.find("```", pos)) != std::string::npos) {
        size_t info_end = response.find('\n', pos + 3);
        if (info_end == std::string::npos) break;
        // The language is the info string's first word: "```python title=x".
        std::string info = lower(response.substr(pos + 3, info_end - pos - 3));
        size_t b = std::min(info.find_first_not_of(" \t\r"), info.size());
        std::string lang = info.substr(b, info.find_first_of(" \t\r", b) - b);
        size_t close = response.find("```", info_end + 1);
        std::string body = response.substr(
            info_end + 1, close == std::string::npos ? std::string::npos : close - info_end - 1);
        if (lang == "python" || lang == "py" || lang == "python3")
            python = body;
        else if (lang.empty())
            plain = body;
        if (close == std::string::npos) break;
        pos = close + 3;
    }
    // Only fences of other languages: the whole response, which will most likely not compile.
    std::string program = python ? *python : plain ? *plain : response;
    if (program.find_first_not_of(" \t\r\n") == std::string::npos) return std::nullopt;
    return program;
}

bool stdout_matches(const std::string& got, const std::string& expected) {
    return normalised_lines(got) == normalised_lines(expected);
}

bool json_matches(const json& got, const json& expected) {
    if (got.is_number() && expected.is_number()) {
        if (got.is_number_float() || expected.is_number_float()) {
            double a = got.get<double>(), b = expected.get<double>();
            return std::fabs(a - b) <= std::max(1e-9, 1e-6 * std::max(std::fabs(a), std::fabs(b)));
        }
        return got == expected;  // integers exactly, whatever their signedness
    }
    if (got.is_array() && expected.is_array()) {
        if (got.size() != expected.size()) return false;
        for (size_t i = 0; i < got.size(); ++i)
            if (!json_matches(got[i], expected[i])) return false;
        return true;
    }
    if (got.is_object() && expected.is_object()) {
        if (got.size() != expected.size()) return false;
        for (auto it = expected.begin(); it != expected.end(); ++it)
            if (!got.contains(it.key()) || !json_matches(got[it.key()], it.value())) return false;
        return true;
    }
    return got == expected;
}

}  // namespace stride
