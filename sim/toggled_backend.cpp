// The model with patch toggles forced on or off: the other side of a differential run that asks
// what a patch changes (or a deliberately wrong model, to prove the comparison catches it).
#include "backend.h"

namespace kvmsim::sim {
namespace {

class ToggledModelBackend final : public Backend {
public:
    ToggledModelBackend(std::vector<std::string> apply, std::vector<std::string> revert)
        : inner_(make_model_backend()), apply_(std::move(apply)), revert_(std::move(revert)) {}

    [[nodiscard]] std::string name() const override { return "model" + label(); }
    void start(const Scenario& scenario, const RunConfig& config) override {
        RunConfig c = config;
        c.apply.insert(c.apply.end(), apply_.begin(), apply_.end());
        c.revert.insert(c.revert.end(), revert_.begin(), revert_.end());
        inner_->start(scenario, c);
    }
    StepResult run(const Step& step) override { return inner_->run(step); }

private:
    [[nodiscard]] std::string label() const {
        std::string s;
        for (const auto& a : apply_) s += " +" + a;
        for (const auto& r : revert_) s += " -" + r;
        return s;
    }
    std::unique_ptr<Backend> inner_;
    std::vector<std::string> apply_, revert_;
};

}  // namespace

std::unique_ptr<Backend> make_toggled_model_backend(std::vector<std::string> apply, std::vector<std::string> revert) {
    return std::make_unique<ToggledModelBackend>(std::move(apply), std::move(revert));
}

}  // namespace kvmsim::sim
