// json_brief: a JSON value for an error message. Scalars print as JSON (cut at 80 characters);
// containers print only when they are small and flat, else as a summary. Never recursive, because
// nlohmann's dump() recurses once per nesting level and a hostile file (a million '[') would
// overflow the stack while we are merely reporting that it is malformed.
#pragma once
#include <nlohmann/json.hpp>
#include <string>

namespace stride {

inline std::string json_brief(const nlohmann::json& v) {
    if (v.is_object()) return "an object with " + std::to_string(v.size()) + " keys";
    if (v.is_array()) {
        bool flat = v.size() <= 8;
        for (size_t i = 0; flat && i < v.size(); ++i) flat = !v[i].is_structured();
        if (!flat) return "an array of " + std::to_string(v.size()) + " elements";
    }
    std::string s = v.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    return s.size() > 80 ? s.substr(0, 77) + "..." : s;
}

}  // namespace stride
