// HF checkpoint directories: config.json + model.safetensors, or shards + model.safetensors.index.json.
//
// Loading validates everything against the ParamLayout of config.json *before* allocating the model,
// so a wrong or hostile config fails with a message about the tensor at fault, not with bad_alloc.
// Saving writes into a staging directory next to the target and renames into place, so a crash
// never leaves a half-written file under a final name.
#include "model/checkpoint.h"

#include <fcntl.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <unordered_map>

#include "common/base/error.h"
#include "model/json_brief.h"
#include "model/safetensors.h"

namespace stride {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

const char* kSingleFile = "model.safetensors";
const char* kIndexFile = "model.safetensors.index.json";

const char* safetensors_dtype(DiskDtype d) {
    switch (d) {
        case DiskDtype::f32:
            return "F32";
        case DiskDtype::bf16:
            return "BF16";
        case DiskDtype::f16:
            return "F16";
    }
    return "?";
}

const char* torch_dtype_name(DiskDtype d) {
    switch (d) {
        case DiskDtype::f32:
            return "float32";
        case DiskDtype::bf16:
            return "bfloat16";
        case DiskDtype::f16:
            return "float16";
    }
    return "?";
}

size_t dtype_bytes(DiskDtype d) {
    return d == DiskDtype::f32 ? 4 : 2;
}

// std::filesystem::exists without the throwing overload: an unreadable path simply does not exist here.
bool path_exists(const std::string& path) {
    std::error_code ec;
    return fs::exists(path, ec);
}

bool ends_with(const std::string& s, const std::string& suffix) {
    return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

std::string shape_str(const std::vector<int64_t>& shape) {
    std::string s = "[";
    for (size_t i = 0; i < shape.size(); ++i) {
        if (i) s += ", ";
        s += std::to_string(shape[i]);
    }
    return s + "]";
}

// "a, b, c and 7 more": error messages name the tensors without printing hundreds of them.
std::string name_list(const std::vector<std::string>& names) {
    const size_t shown = std::min<size_t>(names.size(), 5);
    std::string s;
    for (size_t i = 0; i < shown; ++i) {
        if (i) s += ", ";
        s += names[i];
    }
    if (names.size() > shown) s += " and " + std::to_string(names.size() - shown) + " more";
    return s;
}

std::string read_text(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) throw Error(path + ": cannot open");
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

// ---- loading -----------------------------------------------------------------------------------

struct TensorLocation {
    const SafetensorsFile* file;
    const SafetensorsTensor* tensor;
};

// The weight files of a checkpoint directory, opened and cross-checked against the index.
struct CheckpointFiles {
    std::string source;  // what errors about the set as a whole name: the file or the index
    std::vector<SafetensorsFile> files;
    std::map<std::string, TensorLocation> tensors;  // by name
};

// A shard name from the index must be a plain file name inside the checkpoint directory.
bool is_plain_file_name(const std::string& f) {
    return !f.empty() && f != "." && f != ".." && f.find('/') == std::string::npos &&
           f.find('\0') == std::string::npos;
}

void open_sharded(const std::string& dir, CheckpointFiles& out) {
    const std::string index_path = dir + "/" + kIndexFile;
    out.source = index_path;
    json index;
    try {
        index = json::parse(read_text(index_path));
    } catch (const json::exception& e) {
        throw Error(index_path + ": invalid JSON: " + e.what());
    }
    if (!index.is_object() || !index.contains("weight_map") || !index["weight_map"].is_object())
        throw Error(index_path + ": weight_map: missing or not an object of tensor name -> shard file");
    const json& wm = index["weight_map"];
    std::map<std::string, std::string> shard_of;  // tensor -> shard file
    std::set<std::string> shards;
    for (auto it = wm.begin(); it != wm.end(); ++it) {
        if (!it->is_string())
            throw Error(index_path + ": weight_map: " + it.key() + ": expected a shard file name, got " +
                        json_brief(*it));
        const std::string f = it->get<std::string>();
        if (!is_plain_file_name(f))
            throw Error(index_path + ": weight_map: " + it.key() + ": shard '" + f +
                        "' must be a file name inside the checkpoint directory");
        shard_of[it.key()] = f;
        shards.insert(f);
    }
    if (shards.empty()) throw Error(index_path + ": weight_map is empty");

    out.files.reserve(shards.size());
    for (const std::string& f : shards) {
        const std::string path = dir + "/" + f;
        if (!path_exists(path))
            throw Error(index_path + ": shard " + f + " listed in weight_map does not exist");
        out.files.emplace_back(path);
    }
    for (const SafetensorsFile& file : out.files) {
        const std::string shard = fs::path(file.path()).filename().string();
        for (const SafetensorsTensor& t : file.tensors()) {
            auto it = shard_of.find(t.name);
            if (it == shard_of.end())
                throw Error(file.path() + ": " + t.name + ": not listed in the weight_map of " + kIndexFile);
            if (it->second != shard)
                throw Error(file.path() + ": " + t.name + ": the index places it in " + it->second +
                            " (a tensor must live in exactly one shard)");
            out.tensors[t.name] = {&file, &t};
        }
    }
    for (const auto& [name, shard] : shard_of)
        if (!out.tensors.count(name))
            throw Error(index_path + ": " + name + ": listed in weight_map for " + shard +
                        " but not in that file");
}

// Like transformers, a single model.safetensors wins over an index when both exist.
CheckpointFiles open_checkpoint(const std::string& dir) {
    CheckpointFiles out;
    const std::string single = dir + "/" + kSingleFile;
    if (path_exists(single)) {
        out.source = single;
        out.files.emplace_back(single);
        for (const SafetensorsTensor& t : out.files[0].tensors()) out.tensors[t.name] = {&out.files[0], &t};
    } else if (path_exists(dir + "/" + kIndexFile)) {
        open_sharded(dir, out);
    } else {
        throw Error(dir + ": no " + kSingleFile + " or " + kIndexFile + " (not a Hugging Face checkpoint?)");
    }
    return out;
}

// Checks names, dtypes and shapes against the layout and returns, per spec, where its data is.
std::vector<TensorLocation> match_layout(const CheckpointFiles& ck, const ParamLayout& layout) {
    const ModelConfig& cfg = layout.config();
    std::unordered_map<std::string, size_t> spec_index;
    for (size_t i = 0; i < layout.specs().size(); ++i) spec_index[layout.specs()[i].name] = i;

    std::vector<TensorLocation> where(layout.specs().size(), TensorLocation{nullptr, nullptr});
    std::vector<std::string> unexpected;
    std::string unexpected_file;
    for (const auto& [name, loc] : ck.tensors) {
        auto it = spec_index.find(name);
        if (it != spec_index.end()) {
            where[it->second] = loc;
            continue;
        }
        // A non-persistent RoPE buffer that old exporters saved; never a weight.
        if (ends_with(name, ".rotary_emb.inv_freq")) continue;
        if (name == "lm_head.weight" && cfg.tie_embeddings) {
            std::fprintf(stderr,
                         "stride: warning: %s: lm_head.weight present but tie_word_embeddings is true; "
                         "ignoring it (the output layer is embed_tokens)\n",
                         loc.file->path().c_str());
            continue;
        }
        if (unexpected.empty()) unexpected_file = loc.file->path();
        unexpected.push_back(name);
    }
    if (!unexpected.empty())
        throw Error(unexpected_file + ": unexpected tensor(s) for a " + std::string(arch_name(cfg.arch)) +
                    " model with this config.json: " + name_list(unexpected));

    std::vector<std::string> missing;
    for (size_t i = 0; i < where.size(); ++i) {
        const ParamSpec& s = layout.specs()[i];
        if (!where[i].tensor) {
            missing.push_back(s.name + " " + shape_str(s.shape));
            continue;
        }
        const SafetensorsTensor& t = *where[i].tensor;
        const std::string& path = where[i].file->path();
        if (t.dtype != "F32" && t.dtype != "BF16" && t.dtype != "F16")
            throw Error(path + ": " + t.name + ": unsupported dtype " + t.dtype +
                        " (expected F32, BF16 or F16)");
        if (t.shape != s.shape)
            throw Error(path + ": " + t.name + ": shape " + shape_str(t.shape) + " does not match " +
                        shape_str(s.shape) + " expected from config.json");
    }
    if (!missing.empty()) throw Error(ck.source + ": missing tensor(s): " + name_list(missing));
    return where;
}

void copy_weights(const std::vector<TensorLocation>& where, const ParamLayout& layout, float* data) {
    for (size_t i = 0; i < where.size(); ++i)
        where[i].file->read_f32(*where[i].tensor, data + layout.specs()[i].offset);
}

// The fields that decide the tensor set and shapes; checkpoint_load_weights requires them equal.
void check_same_architecture(const ModelConfig& have, const ModelConfig& disk, const std::string& src) {
    auto same = [&](const char* key, long a, long b) {
        if (a != b)
            throw Error(src + ": " + key + " is " + std::to_string(b) + " but the model in memory has " +
                        std::to_string(a));
    };
    if (have.arch != disk.arch)
        throw Error(src + ": model_type is " + arch_name(disk.arch) + " but the model in memory is " +
                    arch_name(have.arch));
    same("hidden_size", have.hidden, disk.hidden);
    same("intermediate_size", have.intermediate, disk.intermediate);
    same("num_hidden_layers", have.layers, disk.layers);
    same("num_attention_heads", have.heads, disk.heads);
    same("num_key_value_heads", have.kv_heads, disk.kv_heads);
    same("head_dim", have.head_dim, disk.head_dim);
    same("vocab_size", have.vocab, disk.vocab);
    same("tie_word_embeddings", have.tie_embeddings, disk.tie_embeddings);
    same("attention_bias", have.qkv_bias, disk.qkv_bias);
    same("attention_bias (o_proj)", have.o_bias, disk.o_bias);
    same("mlp_bias", have.mlp_bias, disk.mlp_bias);
}

// ---- saving ------------------------------------------------------------------------------------

void fsync_path(const std::string& path, bool directory) {
    const int fd = ::open(path.c_str(), (directory ? O_RDONLY | O_DIRECTORY : O_RDONLY) | O_CLOEXEC);
    if (fd < 0) return;  // best effort: durability, not correctness
    ::fsync(fd);
    ::close(fd);
}

void write_text_synced(const std::string& path, const std::string& text) {
    {
        std::ofstream out(path, std::ios::binary);
        if (!out) throw Error(path + ": cannot write");
        out << text;
        out.flush();
        if (!out) throw Error(path + ": write failed");
    }
    fsync_path(path, false);
}

bool is_weight_file_name(const std::string& f) {
    if (f == kSingleFile || f == kIndexFile) return true;
    // model-00001-of-00003.safetensors
    return f.size() == 32 && f.rfind("model-", 0) == 0 && f.compare(11, 4, "-of-") == 0 &&
           ends_with(f, ".safetensors");
}

// HF's split (huggingface_hub split_state_dict_into_shards_factory), in state-dict order: start a new
// shard when the next tensor would tip the current one over the limit; a tensor larger than the
// limit gets a shard of its own. Same inputs -> the same shard contents transformers would write.
std::vector<std::vector<size_t>> plan_shards(const ParamLayout& layout, size_t elem_bytes, size_t max_bytes) {
    std::vector<std::vector<size_t>> shards;
    std::vector<size_t> current;
    size_t current_bytes = 0;
    for (size_t i = 0; i < layout.specs().size(); ++i) {
        const size_t bytes = layout.specs()[i].numel * elem_bytes;
        if (bytes > max_bytes) {
            shards.push_back({i});
            continue;
        }
        if (current_bytes + bytes > max_bytes) {
            shards.push_back(std::move(current));
            current.clear();
            current_bytes = 0;
        }
        current.push_back(i);
        current_bytes += bytes;
    }
    if (!current.empty()) shards.push_back(std::move(current));
    return shards;
}

std::string shard_file_name(size_t i, size_t n) {
    char buf[64];
    std::snprintf(buf, sizeof buf, "model-%05zu-of-%05zu.safetensors", i + 1, n);
    return buf;
}

// Moves the staged files into `dir`. A fresh `dir` is one rename of the whole directory (atomic). An
// existing one keeps its other files (tokenizer, optimizer state): each weight file is renamed over
// its old version (atomic per file; config.json last) and stale weight files of an earlier layout
// (e.g. the old single file after switching to shards) are removed so loaders cannot pick them up.
void commit_staging(const std::string& staging, const std::string& dir,
                    const std::vector<std::string>& files) {
    std::error_code ec;
    if (!path_exists(dir)) {
        fs::rename(staging, dir, ec);
        if (ec) throw Error(dir + ": cannot move the staged checkpoint into place: " + ec.message());
        fsync_path(fs::path(dir).parent_path().empty() ? "." : fs::path(dir).parent_path().string(), true);
        return;
    }
    if (!fs::is_directory(dir)) throw Error(dir + ": exists and is not a directory");
    for (const std::string& f : files) {
        fs::rename(staging + "/" + f, dir + "/" + f, ec);
        if (ec) throw Error(dir + "/" + f + ": cannot move into place: " + ec.message());
    }
    const std::set<std::string> keep(files.begin(), files.end());
    for (const fs::directory_entry& e : fs::directory_iterator(dir, ec)) {
        const std::string f = e.path().filename().string();
        if (is_weight_file_name(f) && !keep.count(f)) fs::remove(e.path(), ec);
    }
    fs::remove_all(staging, ec);
    fsync_path(dir, true);
}

}  // namespace

DiskDtype disk_dtype_from_name(const std::string& name) {
    if (name == "f32" || name == "float32") return DiskDtype::f32;
    if (name == "bf16" || name == "bfloat16") return DiskDtype::bf16;
    if (name == "f16" || name == "float16") return DiskDtype::f16;
    throw Error("unsupported dtype '" + name + "' (expected f32, bf16 or f16)");
}

Model checkpoint_load(const std::string& dir) {
    const ModelConfig cfg = model_config_load(dir);
    const CheckpointFiles ck = open_checkpoint(dir);
    // Every layer has at least 9 tensors; this bounds the layout size by the file before building it.
    if (static_cast<size_t>(cfg.layers) > ck.tensors.size())
        throw Error(dir + "/config.json: num_hidden_layers is " + std::to_string(cfg.layers) +
                    " but the checkpoint holds only " + std::to_string(ck.tensors.size()) + " tensors");
    const ParamLayout layout(cfg);
    const std::vector<TensorLocation> where = match_layout(ck, layout);
    Model m(cfg);
    copy_weights(where, m.layout, m.data.data());
    return m;
}

void checkpoint_load_weights(Model& m, const std::string& dir) {
    if (path_exists(dir + "/config.json"))
        check_same_architecture(m.config(), model_config_load(dir), dir + "/config.json");
    const CheckpointFiles ck = open_checkpoint(dir);
    const std::vector<TensorLocation> where = match_layout(ck, m.layout);
    copy_weights(where, m.layout, m.data.data());
}

void checkpoint_for_each_tensor(const std::string& dir, const ParamLayout& layout,
                                const CheckpointTensorFn& fn) {
    if (path_exists(dir + "/config.json"))
        check_same_architecture(layout.config(), model_config_load(dir), dir + "/config.json");
    const CheckpointFiles ck = open_checkpoint(dir);
    const std::vector<TensorLocation> where = match_layout(ck, layout);
    for (size_t i = 0; i < where.size(); ++i) fn(i, *where[i].tensor, where[i].file->bytes(*where[i].tensor));
}

void checkpoint_save(const Model& m, const std::string& dir_in, DiskDtype dtype, size_t max_shard_bytes) {
    std::string dir = dir_in;
    while (dir.size() > 1 && dir.back() == '/') dir.pop_back();
    STRIDE_CHECK(!dir.empty(), "checkpoint_save: empty directory name");
    const ParamLayout& layout = m.layout;
    ModelConfig cfg = m.config();
    cfg.torch_dtype = torch_dtype_name(dtype);

    const size_t elem = dtype_bytes(dtype);
    size_t total_bytes = 0;
    for (const ParamSpec& s : layout.specs()) total_bytes += s.numel * elem;
    std::vector<std::vector<size_t>> shards;
    if (max_shard_bytes == 0 || total_bytes <= max_shard_bytes) {
        shards.emplace_back();
        for (size_t i = 0; i < layout.specs().size(); ++i) shards[0].push_back(i);
    } else {
        shards = plan_shards(layout, elem, max_shard_bytes);
    }

    const fs::path parent = fs::path(dir).parent_path();
    std::error_code ec;
    if (!parent.empty()) fs::create_directories(parent, ec);
    const std::string staging = dir + ".tmp-" + std::to_string(::getpid());
    fs::remove_all(staging, ec);
    if (!fs::create_directory(staging, ec) || ec)
        throw Error(staging + ": cannot create the staging directory: " + ec.message());

    try {
        std::vector<std::string> files;  // in commit order: weights, index, config.json last
        json weight_map = json::object();
        for (size_t k = 0; k < shards.size(); ++k) {
            const std::string name = shards.size() == 1 ? kSingleFile : shard_file_name(k, shards.size());
            std::vector<SafetensorsEntry> entries;
            for (size_t i : shards[k]) {
                const ParamSpec& s = layout.specs()[i];
                entries.push_back(
                    {s.name, safetensors_dtype(dtype), s.shape, m.data.data() + s.offset, nullptr});
                weight_map[s.name] = name;
            }
            safetensors_write(staging + "/" + name, entries);
            files.push_back(name);
        }
        if (shards.size() > 1) {
            // transformers writes json.dumps(index, indent=2, sort_keys=True) + "\n"; nlohmann's objects
            // are sorted maps, so dump(2) gives the same text.
            const json index = {{"metadata", {{"total_size", total_bytes}}}, {"weight_map", weight_map}};
            write_text_synced(staging + "/" + kIndexFile, index.dump(2) + "\n");
            files.push_back(kIndexFile);
        }
        write_text_synced(staging + "/config.json", model_config_to_json(cfg));
        files.push_back("config.json");
        commit_staging(staging, dir, files);
    } catch (...) {
        fs::remove_all(staging, ec);
        throw;
    }
}

}  // namespace stride
