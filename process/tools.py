"""What the app may use of the process stages besides running them, reached through
:mod:`wirewatch.app.registry`.

In: nothing at import (each name is imported when first used). Out: the topic rules (load, parse,
check), the classifier and its builder, training and saving the model, back-testing and
cross-validated evaluation, and the rule language's matching (for the rule editor's preview).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from wirewatch.exports import lazy_exports

if TYPE_CHECKING:
    from wirewatch.process.backtest import BacktestInputError, InputArticle, as_article, compare, metrics, read_articles
    from wirewatch.process.backtest import run as backtest
    from wirewatch.process.classifier import RuleSource, TopicClassifier
    from wirewatch.process.evaluation import cross_validate, plot_pr
    from wirewatch.process.model import TOPICS, save, training_examples
    from wirewatch.process.model import train as train_model
    from wirewatch.process.rule_language import Document, Phrase, has_not, matched_words
    from wirewatch.process.rules import RULES_SUFFIX, RuleError, bundled_rules_dir, load_rules, parse_rules
    from wirewatch.process.stage import build_classifier

__all__ = ["RULES_SUFFIX", "TOPICS", "BacktestInputError", "Document", "InputArticle", "Phrase", "RuleError",
           "RuleSource", "TopicClassifier", "as_article", "backtest", "build_classifier", "bundled_rules_dir",
           "compare", "cross_validate", "has_not", "load_rules", "matched_words", "metrics", "parse_rules",
           "plot_pr", "read_articles", "save", "train_model", "training_examples"]

_BACKTEST = "wirewatch.process.backtest"
_MODEL = "wirewatch.process.model"
_RULES = "wirewatch.process.rules"
_LANGUAGE = "wirewatch.process.rule_language"

__getattr__ = lazy_exports(__name__, {
    "BacktestInputError": (_BACKTEST, "BacktestInputError"), "InputArticle": (_BACKTEST, "InputArticle"),
    "as_article": (_BACKTEST, "as_article"), "compare": (_BACKTEST, "compare"), "metrics": (_BACKTEST, "metrics"),
    "read_articles": (_BACKTEST, "read_articles"), "backtest": (_BACKTEST, "run"),
    "RuleSource": ("wirewatch.process.classifier", "RuleSource"),
    "TopicClassifier": ("wirewatch.process.classifier", "TopicClassifier"),
    "cross_validate": ("wirewatch.process.evaluation", "cross_validate"),
    "plot_pr": ("wirewatch.process.evaluation", "plot_pr"),
    "TOPICS": (_MODEL, "TOPICS"), "save": (_MODEL, "save"), "training_examples": (_MODEL, "training_examples"),
    "train_model": (_MODEL, "train"),
    "Document": (_LANGUAGE, "Document"), "Phrase": (_LANGUAGE, "Phrase"), "has_not": (_LANGUAGE, "has_not"),
    "matched_words": (_LANGUAGE, "matched_words"),
    "RULES_SUFFIX": (_RULES, "RULES_SUFFIX"), "RuleError": (_RULES, "RuleError"),
    "bundled_rules_dir": (_RULES, "bundled_rules_dir"), "load_rules": (_RULES, "load_rules"),
    "parse_rules": (_RULES, "parse_rules"),
    "build_classifier": ("wirewatch.process.stage", "build_classifier"),
})
