#include "model/device_weights.h"

#include <cstring>
#include <unordered_map>

#include "common/base/error.h"
#include "model/checkpoint.h"
#include "model/dtype.h"
#include "model/ops/math.h"

namespace stride {

WeightDtype parse_weight_dtype(const std::string& name) {
    if (name == "fp32") return WeightDtype::fp32;
    if (name == "bf16") return WeightDtype::bf16;
    throw Error("weight dtype '" + name + "': expected fp32 or bf16");
}

const char* weight_dtype_name(WeightDtype d) {
    return d == WeightDtype::bf16 ? "bf16" : "fp32";
}

DeviceWeights::DeviceWeights(const Model& model, const Backend& backend, WeightDtype dtype,
                             size_t staging_bytes)
    : model_(model), be_(backend), dtype_(dtype), staging_bytes_(staging_bytes) {
    buf_.set_backend(be_);
    if (dtype_ == WeightDtype::bf16) {
        STRIDE_CHECK(be_.has(&Backend::matmul_forward_bf16) && be_.has(&Backend::embedding_forward_bf16) &&
                         be_.has(&Backend::cast_to_bf16),
                     std::string("backend ") + be_.name + " has no bf16-weight ops (use fp32 weights)");
        lay_out_bf16();
    } else if (be_.host_memory) {
        base_ = model.data.data();
        views_ = model.w;
        return;
    } else {
        buf_.grow(model.data.size() * sizeof(float));
        base_ = buf_.as<float>();
        views_ = model.layout.views(buf_.as<float>());
    }
    upload();
}

// Matrices (2-D specs) first, packed in bf16; then the vectors in fp32, 64-byte aligned.
void DeviceWeights::lay_out_bf16() {
    const std::vector<ParamSpec>& specs = model_.layout.specs();
    place_.resize(specs.size());
    size_t halves = 0, floats = 0;
    for (size_t i = 0; i < specs.size(); ++i) {
        const bool half = specs[i].shape.size() >= 2;
        place_[i] = {half, half ? halves : floats};
        (half ? halves : floats) += specs[i].numel;
    }
    const size_t half_bytes = (halves * sizeof(uint16_t) + 63) / 64 * 64;
    buf_.grow(half_bytes + floats * sizeof(float));
    halves_ = buf_.as<uint16_t>();
    floats_ = reinterpret_cast<float*>(static_cast<unsigned char*>(buf_.get()) + half_bytes);

    // Translate the Model's views (pointers into model.data) spec by spec.
    std::unordered_map<size_t, size_t> spec_at;  // float offset -> spec index
    for (size_t i = 0; i < specs.size(); ++i) spec_at[specs[i].offset] = i;
    const float* host = model_.data.data();
    auto place_of = [&](const float* p) -> const Place* {
        return p ? &place_[spec_at.at(static_cast<size_t>(p - host))] : nullptr;
    };
    auto vec = [&](const float* p) -> float* {
        const Place* pl = place_of(p);
        STRIDE_CHECK(!pl || !pl->half, "DeviceWeights: a vector parameter was laid out as a matrix");
        return pl ? floats_ + pl->offset : nullptr;
    };
    auto mat = [&](const float* p) -> const uint16_t* {
        const Place* pl = place_of(p);
        STRIDE_CHECK(!pl || pl->half, "DeviceWeights: a matrix parameter was laid out as a vector");
        return pl ? halves_ + pl->offset : nullptr;
    };
    const ModelWeights& w = model_.w;
    views_ = ModelWeights{};
    views_.final_norm = vec(w.final_norm);
    bf16_.embed = mat(w.embed);
    bf16_.lm_head = mat(w.lm_head);
    views_.layers.resize(w.layers.size());
    bf16_.layers.resize(w.layers.size());
    for (size_t l = 0; l < w.layers.size(); ++l) {
        const LayerWeights& h = w.layers[l];
        LayerWeights& v = views_.layers[l];
        v = LayerWeights{};
        v.attn_norm = vec(h.attn_norm), v.mlp_norm = vec(h.mlp_norm);
        v.q_norm = vec(h.q_norm), v.k_norm = vec(h.k_norm);
        v.bq = vec(h.bq), v.bk = vec(h.bk), v.bv = vec(h.bv), v.bo = vec(h.bo);
        v.b_gate = vec(h.b_gate), v.b_up = vec(h.b_up), v.b_down = vec(h.b_down);
        bf16_.layers[l] = {mat(h.wq),     mat(h.wk),   mat(h.wv),    mat(h.wo),
                           mat(h.w_gate), mat(h.w_up), mat(h.w_down)};
    }
}

WeightStaging& DeviceWeights::staging() {
    if (!staging_) staging_ = std::make_unique<WeightStaging>(be_, staging_bytes_);
    return *staging_;
}

void* DeviceWeights::spec_dst(size_t i) const {
    return place_[i].half ? static_cast<void*>(halves_ + place_[i].offset)
                          : static_cast<void*>(floats_ + place_[i].offset);
}

void DeviceWeights::upload() {
    if (dtype_ == WeightDtype::fp32) {
        if (be_.host_memory) return;
        be_.copy(buf_.get(), model_.data.data(), model_.data.size() * sizeof(float));
        be_.sync();  // the host buffer may change right after this returns
        return;
    }
    const std::vector<ParamSpec>& specs = model_.layout.specs();
    WeightStaging& st = staging();
    for (size_t i = 0; i < specs.size(); ++i) {
        const float* src = model_.data.data() + specs[i].offset;
        if (place_[i].half) {
            st.put(spec_dst(i), specs[i].numel, sizeof(uint16_t), [&](void* out, size_t first, size_t n) {
                auto* o = static_cast<uint16_t*>(out);
                for (size_t k = 0; k < n; ++k) o[k] = bf16_from_float(src[first + k]);
            });
        } else {
            st.put(spec_dst(i), specs[i].numel, sizeof(float), [&](void* out, size_t first, size_t n) {
                std::memcpy(out, src + first, n * sizeof(float));
            });
        }
    }
    st.finish();
}

namespace {

// Element k of a safetensors tensor of dtype F32, BF16 or F16 (checked by the checkpoint walk), as fp32.
float element_f32(const std::string& dtype, const uint8_t* bytes, size_t k) {
    if (dtype == "F32") {
        float f;
        std::memcpy(&f, bytes + 4 * k, 4);
        return f;
    }
    uint16_t h;
    std::memcpy(&h, bytes + 2 * k, 2);
    return dtype == "BF16" ? float_from_bf16(h) : f16_to_f32(h);
}

}  // namespace

void DeviceWeights::load_checkpoint(const std::string& dir) {
    STRIDE_CHECK(
        has_own_copy(),
        "DeviceWeights::load_checkpoint: fp32 weights on the CPU are model.data; load the checkpoint "
        "into the Model (checkpoint_load_weights)");
    WeightStaging& st = staging();
    checkpoint_for_each_tensor(
        dir, model_.layout, [&](size_t i, const SafetensorsTensor& t, const uint8_t* bytes) {
            const bool half = dtype_ == WeightDtype::bf16 && place_[i].half;
            void* dst = dtype_ == WeightDtype::bf16
                            ? spec_dst(i)
                            : static_cast<void*>(buf_.as<float>() + model_.layout.specs()[i].offset);
            const std::string dtype = t.dtype;
            if (half && dtype == "BF16") {  // as stored: the bytes themselves
                st.put(dst, t.numel, 2, [&](void* out, size_t first, size_t n) {
                    std::memcpy(out, bytes + 2 * first, 2 * n);
                });
            } else if (half) {
                st.put(dst, t.numel, 2, [&](void* out, size_t first, size_t n) {
                    auto* o = static_cast<uint16_t*>(out);
                    for (size_t k = 0; k < n; ++k)
                        o[k] = bf16_from_float(element_f32(dtype, bytes, first + k));
                });
            } else {
                st.put(dst, t.numel, 4, [&](void* out, size_t first, size_t n) {
                    auto* o = static_cast<float*>(out);
                    for (size_t k = 0; k < n; ++k) o[k] = element_f32(dtype, bytes, first + k);
                });
            }
        });
    st.finish();
}

void DeviceWeights::adopt_device_f32(const float* src) {
    STRIDE_CHECK(has_own_copy(), "DeviceWeights::adopt_device_f32: fp32 weights on the CPU are model.data");
    if (dtype_ == WeightDtype::fp32) {
        be_.copy(buf_.get(), src, model_.data.size() * sizeof(float));
    } else {
        const std::vector<ParamSpec>& specs = model_.layout.specs();
        for (size_t i = 0; i < specs.size(); ++i) {
            if (place_[i].half)
                be_.cast_to_bf16(halves_ + place_[i].offset, src + specs[i].offset, specs[i].numel);
            else
                be_.copy(floats_ + place_[i].offset, src + specs[i].offset, specs[i].numel * sizeof(float));
        }
    }
    be_.sync();  // the source (the slot) may be overwritten once this returns
}

}  // namespace stride
