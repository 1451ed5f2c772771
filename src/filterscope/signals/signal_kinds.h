// The factories of the registered signals, one per file of signals/; only signal_registry.cpp
// includes this (the rest of the library reaches signals through training_signals()).
#pragma once
#include "filterscope/signals/signal.h"

namespace filterscope::signal_kinds {

SignalInfo anomaly_count();
SignalInfo small_cluster_share();
SignalInfo label_wave();
SignalInfo gsnr();
SignalInfo eb_criterion();
SignalInfo gradient_disparity();
SignalInfo weight_alpha();
SignalInfo train_loss();

}  // namespace filterscope::signal_kinds
