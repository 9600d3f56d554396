// The parent <-> reward worker wire format: frames of a u32 length (host order: both ends are the
// same binary on the same machine) followed by that many bytes. Inside a frame, strings are a u32
// length and bytes, numbers are raw host-order values.
//
//   hello    worker -> parent   u8 ok, str message (why not, when ok = 0)
//   request  parent -> worker   str prompt, str response, str label, str metadata_json
//   reply    worker -> parent   u8 ok, f64 score, str detail
#pragma once
#include <cstdint>
#include <string>

namespace stride::plugin_wire {

class Writer {
   public:
    void u8(uint8_t v) { buf_.push_back(static_cast<char>(v)); }
    void f64(double v) { buf_.append(reinterpret_cast<const char*>(&v), sizeof v); }
    void str(const std::string& s);
    const std::string& bytes() const { return buf_; }

   private:
    std::string buf_;
};

// Reads fields in order; any read past the end sets !ok() and yields zeros (a corrupt frame).
class Reader {
   public:
    explicit Reader(const std::string& frame) : buf_(frame) {}
    uint8_t u8();
    double f64();
    std::string str();
    bool ok() const { return ok_; }

   private:
    bool take(void* out, size_t n);
    const std::string& buf_;
    size_t pos_ = 0;
    bool ok_ = true;
};

// Blocking send of one frame; false when the peer is gone (never raises SIGPIPE).
bool send_frame(int fd, const std::string& payload);

enum class RecvResult { ok, closed, timeout };
// One frame; timeout_s <= 0 waits forever. `closed` covers EOF, errors and a malformed length.
RecvResult recv_frame(int fd, std::string& payload, double timeout_s);

}  // namespace stride::plugin_wire
