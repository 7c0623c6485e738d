"""Configuration: one frozen, validated object built once at start-up and passed down.

In: an optional TOML file and a few environment variables. Out: :class:`Settings`.

Unknown keys are an error naming the key, the file and its line, so that a typo never silently
falls back to a default. Environment variables override the file: ``KAFKA_BOOTSTRAP_SERVERS``,
``WIREWATCH_DATABASE_URL``, ``WIREWATCH_SMTP_HOST`` (and ``_PORT``, ``_USER``, ``_PASSWORD``),
``WIREWATCH_DATA_DIR``. Empty values mean the embedded defaults: a bundled broker on a free
loopback port, SQLite under the data directory, and ``.eml`` files in an outbox folder.
"""

from __future__ import annotations

import logging
import os
import re
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, EmailStr, Field, ValidationError, field_validator, model_validator

from wirewatch.config_references import TopicNames, line_of, reference_problems

log = logging.getLogger(__name__)


class ConfigError(ValueError):
    """A configuration that cannot be used; the message names the file, key and line."""


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class KafkaSettings(_Section):
    bootstrap_servers: str = Field("", description="empty: start the bundled broker on a free loopback port")
    topic_prefix: str = ""
    partitions: int = Field(4, ge=1)
    session_timeout_ms: int = Field(6000, ge=1000)
    heartbeat_interval_ms: int = Field(2000, ge=100)
    max_poll_records: int = Field(50, ge=1)
    metadata_max_age_ms: int = Field(30000, ge=1000, description="how soon a worker sees topics created or "
                                     "recreated (after a broker lost them)")
    max_message_bytes: int = Field(1_000_000, ge=10_000, description="a larger message is dead-lettered, not sent "
                                   "(a real broker refuses over message.max.bytes, 1 MB by default)")
    client_id: str = "wirewatch"
    redrive_after_seconds: float = Field(1800.0, gt=0, description="an accepted entry not archived by then is "
                                         "published again (the broker may have lost it)")
    max_redrives: int = Field(5, ge=0, description="then the entry is given up and logged")


class DatabaseSettings(_Section):
    url: str = Field("", description="SQLAlchemy URL; empty: sqlite under the data directory")
    auto_migrate: bool = Field(True, description="migrate the schema at start; false: `wirewatch db upgrade` does")


class SmtpSettings(_Section):
    host: str = Field("", description="empty: write .eml files to the outbox folder instead of sending")
    port: int = Field(587, ge=1, le=65535)
    username: str = ""
    password: str = ""
    security: Literal["none", "starttls", "tls"] = "starttls"
    ca_file: str = Field("", description="CA certificates (PEM) that sign the server's certificate; empty: the "
                                         "system's trusted CAs")
    timeout_seconds: float = Field(20.0, gt=0)
    retry_first_seconds: float = Field(30.0, gt=0, description="first wait after a failed send; doubles per try")
    retry_max_seconds: float = Field(3600.0, gt=0, description="the longest wait between tries")
    claim_timeout_seconds: float = Field(300.0, gt=0, description="an alert a worker claimed and did not finish "
                                         "sending in this time (it died) is sent again")
    sender: str = "wirewatch <wirewatch@localhost>"
    outbox_dir: str = Field("", description="where .eml files go without SMTP; empty: DATA_DIR/outbox")


class FeedSettings(_Section):
    url: str
    name: str = ""

    @field_validator("url")
    @classmethod
    def _http_only(cls, value: str) -> str:
        if not re.match(r"^https?://[^\s/]+", value):
            raise ValueError(f"feed URL must be http(s)://host/...: {value!r}")
        return value


class HttpSettings(_Section):
    """How wirewatch behaves on the web, for feeds and article pages alike."""

    user_agent: str = "wirewatch/0.1 (news monitoring; +https://github.com/wirewatch/wirewatch)"
    contact: str = Field("", description="an address or URL for site owners, added to the user agent")
    allow_networks: list[str] = Field(default_factory=list,
                                      description="private/loopback networks that may be fetched, e.g. 127.0.0.0/8")
    per_host_concurrency: int = Field(2, ge=1)
    per_host_delay_seconds: float = Field(0.0, ge=0, description="between request starts to one host")
    max_redirects: int = Field(5, ge=0, le=20)

    @field_validator("allow_networks")
    @classmethod
    def _networks(cls, value: list[str]) -> list[str]:
        import ipaddress

        for net in value:
            try:
                ipaddress.ip_network(net, strict=False)
            except ValueError:
                raise ValueError(f"not a network (expected e.g. 127.0.0.0/8): {net!r}") from None
        return value

    @property
    def agent(self) -> str:
        return f"{self.user_agent[:-1]}; {self.contact})" if self.contact and self.user_agent.endswith(")") \
            else self.user_agent


class PollSettings(_Section):
    interval_seconds: float = Field(900.0, gt=0, description="first interval of a new feed")
    min_interval_seconds: float = Field(300.0, gt=0)
    max_interval_seconds: float = Field(6 * 3600.0, gt=0)
    unhealthy_after_failures: int = Field(8, ge=1)
    unhealthy_interval_seconds: float = Field(24 * 3600.0, gt=0, description="how often an unhealthy feed is tried")
    timeout_seconds: float = Field(20.0, gt=0)
    deadline_seconds: float = Field(60.0, gt=0, description="a whole request, body included")
    max_bytes: int = Field(10_000_000, gt=0)
    concurrency: int = Field(200, ge=1, description="requests in flight at once")

    @model_validator(mode="after")
    def _ordered(self) -> PollSettings:
        if self.min_interval_seconds > self.max_interval_seconds:
            raise ValueError(f"min_interval_seconds ({self.min_interval_seconds:g}) is above max_interval_seconds "
                             f"({self.max_interval_seconds:g})")
        return self


class ExtractSettings(_Section):
    timeout_seconds: float = Field(20.0, gt=0)
    deadline_seconds: float = Field(60.0, gt=0)
    max_bytes: int = Field(5_000_000, gt=0)
    respect_robots_txt: bool = True
    min_text_chars: int = Field(200, ge=0, description="shorter page text falls back to the feed summary")
    max_text_chars: int = Field(100_000, ge=1_000, description="a longer text is cut at a paragraph's end before "
                                "this, so that one huge page costs the later stages a bounded time and fits a "
                                "Kafka message")
    workers: int = Field(0, ge=0, description="extraction processes; 0: one per core, 1: in the worker itself")
    fetch_concurrency: int = Field(16, ge=1, description="pages fetched at once per worker")
    extraction_timeout_seconds: float = Field(30.0, gt=0, description="a page taking longer falls back")
    page_patience_seconds: float = Field(5.0, gt=0, description="a page still loading after this is fetched on in "
                                         "the background and its entry queued again, so that others pass")


class ClassifySettings(_Section):
    rules_dir: str = Field("", description="folder of *.rules files, one topic each; empty: the bundled pack")
    training_data: list[str] = Field(default_factory=list, description="extra JSONL files to train on")
    model_path: str = Field("", description="a model saved by `wirewatch train`; empty: DATA_DIR/model.joblib")
    fire_score: float = Field(0.6, ge=0, le=1, description="(rule part + model probability) / 2 that fires a topic")
    model_alone_probability: float = Field(0.85, ge=0, le=1.01, description="the model fires a topic on its own")


class WatchSettings(_Section):
    """A watched story, seeded from an article URL, a text, or a text file."""

    id: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]*$")
    name: str
    seed_url: str = ""
    seed_text: str = ""
    seed_file: str = ""
    topics: list[str] = Field(default_factory=list, description="the story's topics; a seed URL adds its own")

    def seed(self) -> str:
        """The seed's text: ``seed_text``, or what ``seed_file`` holds. A file that cannot be read (gone
        since the configuration was loaded) gives "" and an error in the log naming the watch and the
        file: the watch then links nothing until the file is back, and the worker goes on."""
        if not self.seed_file:
            return self.seed_text
        try:
            return Path(self.seed_file).read_text(encoding="utf-8", errors="replace")
        except OSError as exc:
            log.error("watch %r: its seed_file %s cannot be read (%s): the watch links nothing until it can",
                      self.id, self.seed_file, exc.strerror or exc)
            return ""


SEED_WORDS = 20  # fewer words than this (and fewer letters than SEED_LETTERS) make a thin seed
SEED_LETTERS = 120  # scripts written without spaces (Thai, Chinese…) count by letters


def thin_seed(text: str) -> int | None:
    """How many words a seed text has, when it has too few to describe a story; None when it has enough."""
    words = sum(any(ch.isalpha() for ch in token) for token in text.split())
    letters = sum(ch.isalpha() for ch in text)
    return words if words < SEED_WORDS and letters < SEED_LETTERS else None


class SubscriberSettings(_Section):
    email: EmailStr
    name: str = ""
    mode: Literal["immediate", "hourly", "daily"] = "immediate"
    topics: dict[str, float] = Field(default_factory=dict, description="topic -> minimum score")
    watches: list[str] = Field(default_factory=list)

    @field_validator("topics")
    @classmethod
    def _scores(cls, value: dict[str, float]) -> dict[str, float]:
        wrong = [f"{t} = {v:g}" for t, v in value.items() if not 0.0 <= v <= 1.0]
        if wrong:
            raise ValueError(f"a minimum score is between 0 and 1 (a topic's score never leaves that range): "
                             f"{', '.join(wrong)}")
        return value


class AlertSettings(_Section):
    related_threshold: float = Field(0.14, ge=0, le=1, description="name similarity that links an article to a story")
    window_days: float = Field(120.0, gt=0, description="a story ends this many days after its last development")
    story_threshold: float = Field(0.07, ge=0, le=1, description="key similarity that joins an article to a story")
    story_window_days: float = Field(7.0, gt=0, description="a story takes no new article after this many quiet days")
    storm_window_minutes: float = Field(30.0, ge=0, description="at most one immediate email per story and subscriber")
    daily_digest_hour: int = Field(7, ge=0, le=23, description="UTC hour of the daily digest")


class ObservabilitySettings(_Section):
    port: int = Field(0, ge=0, le=65535, description="/healthz, /readyz and /metrics; 0: off")
    host: str = "127.0.0.1"
    json_logs: Literal["auto", "always", "never"] = Field("auto", description="auto: JSON when not on a terminal")


class WebSettings(_Section):
    """The web app (``wirewatch web``) and the links in emails that lead to it."""

    host: str = "127.0.0.1"
    port: int = Field(0, ge=0, le=65535, description="`wirewatch run` also serves the app on it; 0: off "
                      "(`wirewatch web` defaults to 8080)")
    base_url: str = Field("http://127.0.0.1:8080", description="the address analysts reach the app at; links in "
                          "emails start with it")
    secret: str = Field("", description="signs links in emails; empty: a random one kept in DATA_DIR/web.secret "
                        "(every alert worker and the app must share it)")
    link_days: float = Field(30.0, gt=0, description="how long a link in an email works")
    session_hours: float = Field(12.0, gt=0, description="a login lasts this long")
    login_attempts_per_minute: int = Field(5, ge=1, description="per address and per email, then refused a while")
    secure_cookies: bool = Field(False, description="send the session cookie over HTTPS only (behind TLS)")

    @field_validator("base_url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        if not re.match(r"^https?://[^\s/]+", value):
            raise ValueError(f"base_url must be http(s)://host[:port][/path]: {value!r}")
        return value.rstrip("/")


class Settings(_Section):
    data_dir: str = "./wirewatch-data"
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    kafka: KafkaSettings = KafkaSettings()
    database: DatabaseSettings = DatabaseSettings()
    smtp: SmtpSettings = SmtpSettings()
    http: HttpSettings = HttpSettings()
    poll: PollSettings = PollSettings()
    extract: ExtractSettings = ExtractSettings()
    classify: ClassifySettings = ClassifySettings()
    alert: AlertSettings = AlertSettings()
    observability: ObservabilitySettings = ObservabilitySettings()
    web: WebSettings = WebSettings()
    feeds: list[FeedSettings] = Field(default_factory=list)
    watches: list[WatchSettings] = Field(default_factory=list)
    subscribers: list[SubscriberSettings] = Field(default_factory=list)

    @property
    def data_path(self) -> Path:
        return Path(self.data_dir)

    @property
    def database_url(self) -> str:
        return self.database.url or f"sqlite:///{(self.data_path / 'wirewatch.db').resolve()}"

    @property
    def outbox_path(self) -> Path:
        return Path(self.smtp.outbox_dir) if self.smtp.outbox_dir else self.data_path / "outbox"

    @property
    def model_file(self) -> Path:
        return Path(self.classify.model_path) if self.classify.model_path else self.data_path / "model.joblib"


ENV_OVERRIDES: dict[str, tuple[str, ...]] = {
    "KAFKA_BOOTSTRAP_SERVERS": ("kafka", "bootstrap_servers"),
    "WIREWATCH_DATABASE_URL": ("database", "url"),
    "WIREWATCH_SMTP_HOST": ("smtp", "host"),
    "WIREWATCH_SMTP_PORT": ("smtp", "port"),
    "WIREWATCH_SMTP_USER": ("smtp", "username"),
    "WIREWATCH_SMTP_PASSWORD": ("smtp", "password"),
    "WIREWATCH_DATA_DIR": ("data_dir",),
    "WIREWATCH_METRICS_PORT": ("observability", "port"),
    "WIREWATCH_WEB_SECRET": ("web", "secret"),
    "WIREWATCH_WEB_BASE_URL": ("web", "base_url"),
}




def _describe(exc: ValidationError, source: str, text: str, from_env: Mapping[tuple[str, ...], str],
              env: Mapping[str, str]) -> list[str]:
    lines = []
    for err in exc.errors():
        path = tuple(str(p) for p in err["loc"])
        loc = ".".join(path)
        var = next((v for keys, v in from_env.items() if path[:len(keys)] == keys), "")
        if var:  # the environment set it: name the variable, not the key
            shown = "(hidden)" if var.endswith("PASSWORD") else repr(env.get(var, ""))
            lines.append(f"environment variable {var}={shown}: {err['msg']}")
            continue
        last = next((str(p) for p in reversed(err["loc"]) if isinstance(p, str)), "")
        line = line_of(text, last) if last and text else None
        where = f"{source}:{line}" if line else source
        if err["type"] == "extra_forbidden":
            lines.append(f"{where}: unknown key '{loc}' (check its spelling; see README 'Configuration')")
        else:
            lines.append(f"{where}: '{loc}': {err['msg'].removeprefix('Value error, ')}")
    return lines


def load_settings(path: str | Path | None = None, env: Mapping[str, str] | None = None,
                  overrides: Mapping[str, Any] | None = None, topics: TopicNames | None = None) -> Settings:
    """Build the settings from a TOML file (optional), then the environment, then explicit overrides.

    Every problem is reported at once, in one :class:`ConfigError`: keys, values (a value from the
    environment names its variable), and references — watches a subscriber follows, and, when
    ``topics`` can name them, the topics it subscribes to."""
    env = os.environ if env is None else env
    data: dict[str, Any] = {}
    text, source = "", "(defaults)"
    if path is not None:
        source = str(path)
        try:
            text = Path(path).read_text(encoding="utf-8")
            data = tomllib.loads(text)
        except FileNotFoundError:
            raise ConfigError(f"{source}: config file not found") from None
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise ConfigError(f"{source}: not valid TOML: {exc}") from None
    from_env: dict[tuple[str, ...], str] = {}
    for var, keys in ENV_OVERRIDES.items():
        if env.get(var):
            node = data
            for key in keys[:-1]:
                node = node.setdefault(key, {})
            node[keys[-1]] = env[var]
            from_env[keys] = var
    for dotted, value in (overrides or {}).items():
        node = data
        *parents, leaf = dotted.split(".")
        for key in parents:
            node = node.setdefault(key, {})
        node[leaf] = value
    problems: list[str] = []
    settings = None
    try:
        settings = Settings.model_validate(data)
    except ValidationError as exc:
        problems += _describe(exc, source, text, from_env, env)
    problems += reference_problems(data, source, text, topics)
    if problems or settings is None:
        raise ConfigError("\n".join(problems))
    return settings
