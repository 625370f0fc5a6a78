#include "common/yaml_to_json.h"

#include <yaml.h>

#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <nlohmann/json.hpp>
#include <regex>

namespace mw {

namespace {

// Aliases may point back at an enclosing node, or fan out exponentially (a "billion laughs"
// document); no spec nests this deep or holds this many values.
constexpr int kMaxDepth = 64;
constexpr int64_t kMaxNodes = 100000;

class Converter {
 public:
  Converter(yaml_document_t* document, const std::string& source)
      : document_(document), source_(source) {}

  Status Convert(yaml_node_t* node, int depth, nlohmann::json* out) {
    if (depth > kMaxDepth) return Error(node, "nested deeper than 64 levels");
    if (++nodes_ > kMaxNodes) return Error(node, "more than 100000 values (aliases expanded)");
    switch (node->type) {
      case YAML_SCALAR_NODE:
        return Scalar(node, out);
      case YAML_SEQUENCE_NODE: {
        *out = nlohmann::json::array();
        for (auto* item = node->data.sequence.items.start; item < node->data.sequence.items.top;
             ++item) {
          nlohmann::json value;
          MW_RETURN_IF_ERROR(Convert(yaml_document_get_node(document_, *item), depth + 1, &value));
          out->push_back(std::move(value));
        }
        return Status::Ok();
      }
      case YAML_MAPPING_NODE: {
        *out = nlohmann::json::object();
        for (auto* pair = node->data.mapping.pairs.start; pair < node->data.mapping.pairs.top;
             ++pair) {
          yaml_node_t* key = yaml_document_get_node(document_, pair->key);
          if (key->type != YAML_SCALAR_NODE) return Error(key, "a key must be a plain string");
          const std::string name = Text(key);
          if (out->contains(name)) return Error(key, "duplicate key '" + name + "'");
          MW_RETURN_IF_ERROR(
              Convert(yaml_document_get_node(document_, pair->value), depth + 1, &(*out)[name]));
        }
        return Status::Ok();
      }
      case YAML_NO_NODE:
        break;
    }
    *out = nullptr;
    return Status::Ok();
  }

 private:
  static std::string Text(const yaml_node_t* node) {
    return std::string(reinterpret_cast<const char*>(node->data.scalar.value),
                       node->data.scalar.length);
  }

  Status Error(const yaml_node_t* node, const std::string& problem) const {
    return Status::InvalidArgument(source_ + ":" + std::to_string(node->start_mark.line + 1) +
                                   ": " + problem);
  }

  Status Scalar(const yaml_node_t* node, nlohmann::json* out) const {
    const std::string text = Text(node);
    // No null, boolean or number takes 64 characters; longer text stays a string, and
    // std::regex, which recurses per character, never sees it.
    if (node->data.scalar.style != YAML_PLAIN_SCALAR_STYLE || text.size() > 64) {
      *out = text;
      return Status::Ok();
    }
    static const std::regex null_value("~|null|Null|NULL|");
    static const std::regex true_value("true|True|TRUE");
    static const std::regex false_value("false|False|FALSE");
    static const std::regex integer("[-+]?[0-9]+");
    static const std::regex real("[-+]?(\\.[0-9]+|[0-9]+(\\.[0-9]*)?)([eE][-+]?[0-9]+)?");
    static const std::regex special("[-+]?\\.(inf|Inf|INF)|\\.(nan|NaN|NAN)");
    if (std::regex_match(text, null_value)) {
      *out = nullptr;
    } else if (std::regex_match(text, true_value)) {
      *out = true;
    } else if (std::regex_match(text, false_value)) {
      *out = false;
    } else if (std::regex_match(text, integer) || std::regex_match(text, real)) {
      // JSON's own number grammar decides the type, as if the spec had been JSON.
      *out = nlohmann::json::parse(text[0] == '+' ? text.substr(1) : text, nullptr, false);
      if (out->is_discarded()) {  // JSON's grammar refused it: "1." or a number too large
        const double value = std::strtod(text.c_str(), nullptr);
        if (!std::isfinite(value)) return Error(node, "'" + text + "' is out of range");
        *out = value;
      }
    } else if (std::regex_match(text, special)) {
      return Error(node, "'" + text + "' has no JSON equivalent");
    } else {
      *out = text;
    }
    return Status::Ok();
  }

  yaml_document_t* document_;
  const std::string& source_;
  int64_t nodes_ = 0;
};

}  // namespace

Status YamlToJson(const std::string& yaml, const std::string& source, std::string* json) {
  yaml_parser_t parser;
  if (!yaml_parser_initialize(&parser)) return Status::Internal("libyaml: out of memory");
  const std::unique_ptr<yaml_parser_t, void (*)(yaml_parser_t*)> parser_guard(&parser,
                                                                              yaml_parser_delete);
  yaml_parser_set_input_string(&parser, reinterpret_cast<const unsigned char*>(yaml.data()),
                               yaml.size());
  yaml_document_t document;
  if (!yaml_parser_load(&parser, &document)) {
    return Status::InvalidArgument(source + ":" + std::to_string(parser.problem_mark.line + 1) +
                                   ": " + (parser.problem ? parser.problem : "not YAML") +
                                   (parser.context ? std::string(" ") + parser.context : ""));
  }
  const std::unique_ptr<yaml_document_t, void (*)(yaml_document_t*)> document_guard(
      &document, yaml_document_delete);
  yaml_node_t* root = yaml_document_get_root_node(&document);
  if (root == nullptr) return Status::InvalidArgument(source + ": the YAML document is empty");
  yaml_document_t second;
  if (!yaml_parser_load(&parser, &second)) {
    return Status::InvalidArgument(source + ":" + std::to_string(parser.problem_mark.line + 1) +
                                   ": " + (parser.problem ? parser.problem : "not YAML"));
  }
  const bool more = yaml_document_get_root_node(&second) != nullptr;
  yaml_document_delete(&second);
  if (more) return Status::InvalidArgument(source + ": holds more than one YAML document");
  nlohmann::json value;
  MW_RETURN_IF_ERROR(Converter(&document, source).Convert(root, 0, &value));
  *json = value.dump(2);
  return Status::Ok();
}

}  // namespace mw
