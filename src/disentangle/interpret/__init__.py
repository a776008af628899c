"""Automatic interpretation: a label and honest held-out scores for every SAE feature."""

from disentangle.interpret.backend import Backend, Label
from disentangle.interpret.chat import ChatClient, ChatConfig
from disentangle.interpret.examples import ExampleConfig, ExampleSelector, FeatureExamples
from disentangle.interpret.llm import LLMBackend, PromptConfig
from disentangle.interpret.lookup import feature_row, find_features, format_feature
from disentangle.interpret.offline import OfflineBackend, OfflineConfig
from disentangle.interpret.runner import CleanCriteria, InterpretConfig, interpret_features
from disentangle.interpret.scoring import BalancedDesign, Prediction
from disentangle.interpret.summary import format_summary, plot_scores, summarize

__all__ = [
    "Backend",
    "BalancedDesign",
    "ChatClient",
    "ChatConfig",
    "CleanCriteria",
    "ExampleConfig",
    "ExampleSelector",
    "FeatureExamples",
    "InterpretConfig",
    "LLMBackend",
    "Label",
    "OfflineBackend",
    "OfflineConfig",
    "Prediction",
    "PromptConfig",
    "feature_row",
    "find_features",
    "format_feature",
    "format_summary",
    "interpret_features",
    "plot_scores",
    "summarize",
]
