"""Secret redaction (affidavit.capture.redact): realistic samples, false positives, properties.

Every fake secret is built at import from a seeded RNG in the shape of the real thing (prefix,
alphabet, length) and never written out literally: no real credential is used, and no
secret scanner takes this file for a leak.
"""

from __future__ import annotations

import base64
import copy
import json
import random
import string
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from affidavit.capture.redact import BY_KEY, MAX_DEPTH, TOO_DEEP, redact, redact_text

_rng = random.Random(20251126)
ALNUM = string.ascii_letters + string.digits
UPPER_DIGITS = string.ascii_uppercase + string.digits
URLSAFE = ALNUM + "-_"


def fake(alphabet: str, size: int) -> str:
    return "".join(_rng.choice(alphabet) for _ in range(size))


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def pem(label: str, headers: str = "") -> tuple[str, list[str]]:
    lines = [fake(ALNUM + "+/", 64) for _ in range(6)] + [fake(ALNUM + "+/", 28) + "=="]
    body = "\n".join(lines)
    return f"-----BEGIN {label}-----\n{headers}{body}\n-----END {label}-----\n", lines


ANTHROPIC = "sk-ant-api03-" + fake(URLSAFE, 93) + "AA"
ANTHROPIC_ADMIN = "sk-ant-admin01-" + fake(URLSAFE, 93) + "AA"
OPENAI = "sk-" + fake(ALNUM, 20) + "T3BlbkFJ" + fake(ALNUM, 20)
OPENAI_PROJECT = "sk-proj-" + fake(URLSAFE, 40) + "T3BlbkFJ" + fake(URLSAFE, 100)
AWS_KEY_ID = "AKIA" + fake(UPPER_DIGITS, 16)
AWS_SESSION_KEY_ID = "ASIA" + fake(UPPER_DIGITS, 16)
AWS_SECRET = fake(ALNUM + "/+", 40)
AWS_SESSION_TOKEN = "IQoJb3JpZ2luX2Vj" + fake(ALNUM + "/+", 300)
GITHUB = {prefix: prefix + fake(ALNUM, 36) for prefix in ("ghp_", "gho_", "ghu_", "ghs_", "ghr_")}
GITHUB_PAT = "github_pat_" + fake(ALNUM, 22) + "_" + fake(ALNUM, 59)
SLACK = {
    prefix: f"{prefix}{fake(string.digits, 12)}-{fake(string.digits, 13)}-{fake(ALNUM, 24)}"
    for prefix in ("xoxb-", "xoxp-", "xoxa-", "xoxr-", "xoxs-")
}
SLACK_WEBHOOK = (
    f"https://hooks.slack.com/services/T{fake(UPPER_DIGITS, 8)}/B{fake(UPPER_DIGITS, 10)}"
    f"/{fake(ALNUM, 24)}"
)
JWT = ".".join(
    [
        b64url(b'{"alg":"RS256","typ":"JWT","kid":"' + fake(ALNUM, 16).encode() + b'"}'),
        b64url(b'{"sub":"' + fake(string.digits, 10).encode() + b'","exp":1767225600}'),
        fake(URLSAFE, 342),
    ]
)
BEARER = fake(ALNUM, 12) + "7" + fake(ALNUM + "._-", 30)
BASIC_PASSWORD = fake(ALNUM, 14)
BASIC = base64.b64encode(f"deploy:{BASIC_PASSWORD}".encode()).decode()
GOOGLE = "AIza" + fake(URLSAFE, 35)
STRIPE = "sk_live_" + fake(ALNUM, 99)
STRIPE_RESTRICTED = "rk_live_" + fake(ALNUM, 99)
NPM = "npm_" + fake(ALNUM, 36)
GITLAB = "glpat-" + fake(URLSAFE, 20)
HUGGING_FACE = "hf_" + fake(string.ascii_letters, 34)
PASSWORD = "Tr0ub4dor&3" + fake(ALNUM, 6)  # '&' ends a bare shell word: quoted where it is used
SIMPLE_PASSWORD = fake(string.ascii_letters, 4) + fake(string.digits, 4) + "!"
DJANGO_SECRET = fake(ALNUM + "!@#%^*(-_=+)", 50)
RSA_PEM, RSA_LINES = pem("RSA PRIVATE KEY")
EC_PEM, EC_LINES = pem("EC PRIVATE KEY")
PKCS8_PEM, PKCS8_LINES = pem("PRIVATE KEY")
ENCRYPTED_PEM, ENCRYPTED_LINES = pem("ENCRYPTED PRIVATE KEY")
LEGACY_ENCRYPTED_PEM, LEGACY_LINES = pem(
    "RSA PRIVATE KEY",
    f"Proc-Type: 4,ENCRYPTED\nDEK-Info: AES-128-CBC,{fake('0123456789ABCDEF', 32)}\n\n",
)
OPENSSH_PEM, OPENSSH_LINES = pem("OPENSSH PRIVATE KEY")


def tail(secret: str) -> str:
    """The random end of a secret: what must not survive (the prefix legitimately may)."""
    return secret[-12:]


# (text, secrets that must be gone, the masks expected in the output)
SAMPLES: dict[str, tuple[str, list[str], list[str]]] = {
    "anthropic export": (
        f"export ANTHROPIC_API_KEY={ANTHROPIC}",
        [ANTHROPIC],
        ["sk-ant-[REDACTED:anthropic-key]"],
    ),
    "anthropic admin key in a prompt": (
        f"Use the admin key {ANTHROPIC_ADMIN} to list the workspace members.",
        [ANTHROPIC_ADMIN],
        ["sk-ant-[REDACTED:anthropic-key]"],
    ),
    "openai in python": (
        f'client = OpenAI(api_key="{OPENAI}")',
        [OPENAI],
        ['api_key="sk-[REDACTED:openai-key]"'],
    ),
    "openai project key in .env": (
        f"OPENAI_API_KEY={OPENAI_PROJECT}\n",
        [OPENAI_PROJECT],
        ["OPENAI_API_KEY=sk-proj-[REDACTED:openai-key]"],
    ),
    "aws credentials file": (
        f"[default]\naws_access_key_id = {AWS_KEY_ID}\naws_secret_access_key = {AWS_SECRET}\n",
        [AWS_KEY_ID, AWS_SECRET],
        ["AKIA[REDACTED:aws-access-key]", "aws_secret_access_key = [REDACTED:aws-secret-key]"],
    ),
    "aws session exports": (
        f"export AWS_ACCESS_KEY_ID={AWS_SESSION_KEY_ID} AWS_SECRET_ACCESS_KEY={AWS_SECRET} "
        f"AWS_SESSION_TOKEN={AWS_SESSION_TOKEN}",
        [AWS_SESSION_KEY_ID, AWS_SECRET, AWS_SESSION_TOKEN],
        [
            "ASIA[REDACTED:aws-access-key]",
            "AWS_SECRET_ACCESS_KEY=[REDACTED:aws-secret-key]",
            "AWS_SESSION_TOKEN=[REDACTED:secret]",
        ],
    ),
    "aws sts json output": (
        json.dumps(
            {"Credentials": {"AccessKeyId": AWS_SESSION_KEY_ID, "SecretAccessKey": AWS_SECRET}}
        ),
        [AWS_SESSION_KEY_ID, AWS_SECRET],
        ["ASIA[REDACTED:aws-access-key]", '"SecretAccessKey": "[REDACTED:aws-secret-key]"'],
    ),
    "git clone with a token": (
        f"git clone https://alice:{GITHUB['ghp_']}@github.com/acme/payroll.git",
        [GITHUB["ghp_"]],
        ["https://alice:ghp_[REDACTED:github-token]@github.com/acme/payroll.git"],
    ),
    "gh auth with every github prefix": (
        " && ".join(f"echo {token} | gh auth login --with-token" for token in GITHUB.values()),
        list(GITHUB.values()),
        [f"{prefix}[REDACTED:github-token]" for prefix in GITHUB],
    ),
    "github fine-grained pat in a remote": (
        f"git remote set-url origin https://x-access-token:{GITHUB_PAT}@github.com/acme/api.git",
        [GITHUB_PAT],
        ["x-access-token:github_pat_[REDACTED:github-token]@github.com"],
    ),
    "github actions yaml": (
        f"env:\n  GITHUB_TOKEN: {GITHUB['ghs_']}\n",
        [GITHUB["ghs_"]],
        ["GITHUB_TOKEN: ghs_[REDACTED:github-token]"],
    ),
    "slack bot token header": (
        f"curl -X POST -H 'Authorization: Bearer {SLACK['xoxb-']}' "
        "https://slack.com/api/chat.postMessage",
        [SLACK["xoxb-"]],
        ["Authorization: Bearer xoxb-[REDACTED:slack-token]'"],
    ),
    "slack tokens in code": (
        "\n".join(f'TOKEN_{i} = "{token}"' for i, token in enumerate(SLACK.values())),
        list(SLACK.values()),
        [f'"{prefix}[REDACTED:slack-token]"' for prefix in SLACK],
    ),
    "slack webhook": (
        f'curl -X POST --data \'{{"text":"deploy done"}}\' {SLACK_WEBHOOK}',
        [SLACK_WEBHOOK.rsplit("/", 3)[1]],
        ["https://hooks.slack.com/services/[REDACTED:slack-webhook]"],
    ),
    "bearer jwt in curl": (
        f'curl -H "Authorization: Bearer {JWT}" https://api.example.com/v1/me',
        [JWT.split(".", 1)[1]],
        ['"Authorization: Bearer eyJ[REDACTED:jwt]"'],
    ),
    "opaque bearer token": (
        f'curl -sS -H "Authorization: Bearer {BEARER}" https://internal.example.com/api',
        [BEARER],
        ["Authorization: Bearer [REDACTED:bearer-token]"],
    ),
    "bearer in python headers": (
        f'requests.get(url, headers={{"Accept": "application/json", "X": "Bearer {BEARER}"}})',
        [BEARER],
        ['"Bearer [REDACTED:bearer-token]"'],
    ),
    "basic auth header": (
        f'curl -H "Authorization: Basic {BASIC}" https://ci.example.com/job/build',
        [BASIC],
        ["Authorization: Basic [REDACTED:basic-auth]"],
    ),
    "jwt pasted in a prompt": (
        f"Why does the API reject this session token? {JWT} It was issued an hour ago.",
        [JWT.split(".", 1)[1]],
        ["eyJ[REDACTED:jwt]"],
    ),
    "postgres url": (
        f"psql postgresql://app:{SIMPLE_PASSWORD}@db.internal:5432/shop -c 'select 1'",
        [SIMPLE_PASSWORD],
        ["postgresql://app:[REDACTED:url-password]@db.internal:5432/shop"],
    ),
    "redis url without user": (
        f"redis-cli -u redis://:{SIMPLE_PASSWORD}@cache.internal:6379/0 ping",
        [SIMPLE_PASSWORD],
        ["redis://:[REDACTED:url-password]@cache.internal"],
    ),
    "mysql -p attached (from the issue)": (
        "mysql -u root -pS3cret! db",
        ["S3cret!"],
        ["mysql -u root -p[REDACTED:password] db"],
    ),
    "mysqldump quoted -p": (
        f"mysqldump -u backup -p'{PASSWORD}' --all-databases > all.sql",
        [PASSWORD],
        ["-p'[REDACTED:password]' --all-databases"],
    ),
    "mysqladmin -p separated": (
        f"mysqladmin -h db.internal -u root -p {SIMPLE_PASSWORD} status",
        [SIMPLE_PASSWORD],
        ["-p [REDACTED:password] status"],
    ),
    "mariadb in a pipeline": (
        f"gunzip < dump.sql.gz | mariadb -u app -p{SIMPLE_PASSWORD} shop",
        [SIMPLE_PASSWORD],
        ["mariadb -u app -p[REDACTED:password] shop"],
    ),
    "--password forms": (
        f"docker login -u bot --password {SIMPLE_PASSWORD} registry.example.com; "
        f'mysql --password="{PASSWORD}" -e "show databases"',
        [SIMPLE_PASSWORD, PASSWORD],
        ["--password [REDACTED:password] registry", '--password="[REDACTED:password]"'],
    ),
    "libpq and mysql environment": (
        f"PGPASSWORD={SIMPLE_PASSWORD} psql -h db -U app shop; "
        f"MYSQL_PWD={SIMPLE_PASSWORD}x mysql -u app",
        [SIMPLE_PASSWORD],
        ["PGPASSWORD=[REDACTED:password] psql", "MYSQL_PWD=[REDACTED:password] mysql"],
    ),
    "curl -u": (
        f"curl -fsS -u admin:{SIMPLE_PASSWORD} https://jenkins.example.com/api/json",
        [SIMPLE_PASSWORD],
        ["-u admin:[REDACTED:password] https://"],
    ),
    "google maps key": (
        f"curl 'https://maps.googleapis.com/maps/api/geocode/json?address=Paris&key={GOOGLE}'",
        [GOOGLE],
        ["key=AIza[REDACTED:google-api-key]'"],
    ),
    "stripe keys": (
        f'stripe.api_key = "{STRIPE}"\n# read-only: {STRIPE_RESTRICTED}\n',
        [STRIPE, STRIPE_RESTRICTED],
        ['"sk_live_[REDACTED:stripe-key]"', "rk_live_[REDACTED:stripe-key]"],
    ),
    "npmrc": (
        f"//registry.npmjs.org/:_authToken={NPM}\n",
        [NPM],
        ["_authToken=npm_[REDACTED:npm-token]"],
    ),
    "gitlab clone": (
        f"git clone https://oauth2:{GITLAB}@gitlab.com/acme/infra.git",
        [GITLAB],
        ["oauth2:glpat-[REDACTED:gitlab-token]@gitlab.com"],
    ),
    "hugging face login": (
        f"huggingface-cli login --token {HUGGING_FACE}",
        [HUGGING_FACE],
        ["--token hf_[REDACTED:huggingface-token]"],
    ),
    "yaml config": (
        f"database:\n  host: db.internal\n  user: app\n  password: {SIMPLE_PASSWORD}\n  pool: 5\n",
        [SIMPLE_PASSWORD],
        ["  password: [REDACTED:password]\n  pool: 5"],
    ),
    "api key header": (
        f'curl -H "X-Api-Key: {BEARER}" https://api.example.com',
        [BEARER],
        ['"X-Api-Key: [REDACTED:secret]"'],
    ),
}


@pytest.mark.parametrize(("text", "secrets", "masks"), SAMPLES.values(), ids=SAMPLES.keys())
def test_realistic_samples_are_masked(text: str, secrets: list[str], masks: list[str]) -> None:
    out, count = redact_text(text)
    for secret in secrets:
        assert secret not in out
        assert tail(secret) not in out
    for mask in masks:
        assert mask in out
    assert count == out.count("[REDACTED:")
    assert redact_text(out) == (out, 0)


def test_token_as_url_user_and_json_text() -> None:
    url = f"https://{GITHUB['ghp_']}:x-oauth-basic@github.com/acme/api.git"
    assert redact_text(url) == (
        "https://ghp_[REDACTED:github-token]:[REDACTED:url-password]@github.com/acme/api.git",
        2,
    )
    raw = json.dumps({"tool_input": {"command": f"export ANTHROPIC_API_KEY={ANTHROPIC}"}})
    out, count = redact_text(raw)
    assert count == 1
    assert json.loads(out) == {
        "tool_input": {"command": "export ANTHROPIC_API_KEY=sk-ant-[REDACTED:anthropic-key]"}
    }


def test_counts_one_per_secret() -> None:
    assert redact_text(f"export ANTHROPIC_API_KEY={ANTHROPIC}")[1] == 1
    assert redact_text(SAMPLES["aws session exports"][0])[1] == 3
    assert redact_text(SAMPLES["slack tokens in code"][0])[1] == len(SLACK)


def test_env_file() -> None:
    env = (
        "# production settings\n"
        f"DATABASE_URL=postgres://shop:{SIMPLE_PASSWORD}@db.internal:5432/shop\n"
        f"DB_PASSWORD='{PASSWORD}'\n"
        f"SECRET_KEY={DJANGO_SECRET[:20]}\n"
        f"STRIPE_SECRET_KEY={STRIPE}\n"
        f"ANTHROPIC_API_KEY={ANTHROPIC}\n"
        "DEBUG=false\n"
        "ALLOWED_HOSTS=shop.example.com\n"
        "MAX_TOKENS=4096\n"
    )
    out, count = redact_text(env)
    assert count == 5
    for secret in (SIMPLE_PASSWORD, PASSWORD, DJANGO_SECRET[:20], STRIPE, ANTHROPIC):
        assert secret not in out
    assert out.splitlines() == [
        "# production settings",
        "DATABASE_URL=postgres://shop:[REDACTED:url-password]@db.internal:5432/shop",
        "DB_PASSWORD='[REDACTED:password]'",
        "SECRET_KEY=[REDACTED:secret]",
        "STRIPE_SECRET_KEY=sk_live_[REDACTED:stripe-key]",
        "ANTHROPIC_API_KEY=sk-ant-[REDACTED:anthropic-key]",
        "DEBUG=false",
        "ALLOWED_HOSTS=shop.example.com",
        "MAX_TOKENS=4096",
    ]


@pytest.mark.parametrize(
    ("block", "lines"),
    [
        (RSA_PEM, RSA_LINES),
        (EC_PEM, EC_LINES),
        (PKCS8_PEM, PKCS8_LINES),
        (ENCRYPTED_PEM, ENCRYPTED_LINES),
        (LEGACY_ENCRYPTED_PEM, LEGACY_LINES),
        (OPENSSH_PEM, OPENSSH_LINES),
    ],
    ids=["rsa", "ec", "pkcs8", "encrypted", "legacy-encrypted", "openssh"],
)
def test_private_key_in_a_write_tool_input(block: str, lines: list[str]) -> None:
    header = block.split("\n", 1)[0]
    payload = {
        "hook_event_name": "PreToolUse",
        "tool_name": "Write",
        "tool_input": {"file_path": "/home/alice/.ssh/id_deploy", "content": block},
    }
    out, count = redact(payload)
    assert count == 1
    assert out["tool_input"]["content"] == f"{header}[REDACTED:private-key]\n"
    assert out["tool_input"]["file_path"] == "/home/alice/.ssh/id_deploy"
    # The same payload as raw JSON text: newlines are \n escapes there, and it stays JSON.
    raw, raw_count = redact_text(json.dumps(payload))
    assert raw_count == 1
    assert json.loads(raw)["tool_input"]["content"] == f"{header}[REDACTED:private-key]\n"
    for line in lines:
        assert line not in repr(out)
        assert line not in raw


def test_json_tool_input_masks_by_key() -> None:
    tool_input = {
        "url": "https://api.example.com/login",
        "password": PASSWORD,
        "headers": {"Authorization": "Token abc", "x-api-key": "plain", "Accept": "*/*"},
        "clientSecret": "s3",
        "db": {"PGPASSWORD": "pw", "port": 5432, "token": "", "apiKey": None},
        "usage": {"input_tokens": 1200, "max_tokens": 4096},
    }
    before = copy.deepcopy(tool_input)
    out, count = redact(tool_input)
    assert tool_input == before  # never mutated
    assert count == 5
    assert out["password"] == BY_KEY
    assert out["headers"] == {"Authorization": BY_KEY, "x-api-key": BY_KEY, "Accept": "*/*"}
    assert out["clientSecret"] == BY_KEY
    assert out["db"] == {"PGPASSWORD": BY_KEY, "port": 5432, "token": "", "apiKey": None}
    assert out["usage"] == {"input_tokens": 1200, "max_tokens": 4096}
    assert redact(out) == (out, 0)


def test_redact_walks_lists_tuples_and_keeps_scalars() -> None:
    value = [ANTHROPIC, (GITHUB["ghp_"], 3), {1: True, "n": None, "f": 1.5}]
    out, count = redact(value)
    assert count == 2
    assert out == [
        "sk-ant-[REDACTED:anthropic-key]",
        ("ghp_[REDACTED:github-token]", 3),
        {1: True, "n": None, "f": 1.5},
    ]


def test_depth_is_capped() -> None:
    deep: Any = ANTHROPIC
    for i in range(10_000):
        deep = [deep] if i % 2 else {"k": deep}
    out, count = redact(deep)
    assert count == 0
    for _ in range(MAX_DEPTH):
        out = out[0] if isinstance(out, list) else out["k"]
    assert out == TOO_DEEP
    assert redact(out) == (TOO_DEEP, 0)


def test_long_text() -> None:
    text = "x = 1\n" * 200_000 + f"export ANTHROPIC_API_KEY={ANTHROPIC}\n"
    out, count = redact_text(text)
    assert count == 1
    assert ANTHROPIC not in out


FALSE_POSITIVES = {
    "git sha": f"commit {fake('0123456789abcdef', 40)}\nAuthor: Alice <alice@example.com>",
    "sha-256": f"{fake('0123456789abcdef', 64)}  reports/q3.xlsx",
    "uuid session": '{"session_id": "8f14e45f-ceea-467f-a0e6-c3b1f2a9d0e1"}',
    "base64 file hash": json.dumps(
        {"sha256": base64.b64encode(_rng.randbytes(32)).decode(), "path": "finance/q3.xlsx"}
    ),
    "tool use id": '{"tool_use_id": "toolu_01A09q90qw90lq917835lq9X"}',
    "paths": "/home/alice/task-list/desk-top/sk-learn-notes/risk-assessment-framework.md",
    "sk- inside words": "task-list desk-top whisk-aggressively-beat-the-egg-whites-Until-2-peaks",
    "mkdir -p": "mkdir -p build/output/reports && cp -p src/*.py build/output/",
    "ssh -p": "ssh -p 2222 deploy@10.0.0.5 && scp -P 2222 a.txt deploy@10.0.0.5:/tmp",
    "docker -p and -u": "docker run -p 8080:80 -u 1000:1000 nginx && git push -u origin main",
    "mysql -p prompts": "mysql -h db.internal -P 3306 -u app -p",
    "mysql -p port-like": "mysql -u root -p 3306 shop",
    "prose": (
        "Enter your password when prompted. The token expires after an hour; rotate the "
        "API key monthly and never paste a secret into chat."
    ),
    "prose at a line start": "Password: must be at least 12 characters long.\nToken: see below",
    "usage json": '{"usage": {"input_tokens": 1200, "output_tokens": 85}, "max_tokens": 4096}',
    "bearer in prose": "Bearer token authentication is described in RFC 6750.",
    "references": (
        'curl -H "Authorization: Bearer $TOKEN" -H "Authorization: Bearer ${GH_TOKEN}"\n'
        "password=${DB_PASSWORD}\ntoken: ${{ secrets.GITHUB_TOKEN }}\napi_key=<your-api-key>\n"
        "password: ********\n"
    ),
    "code reading a secret": (
        'password = get_password()\ntoken = request.headers["X-Token"]\n'
        'headers = {"Authorization": f"Bearer {token}"}'
    ),
    "settings that are not secrets": (
        "ssh -o PasswordAuthentication=no host\nPASSWORD_MIN_LENGTH=12"
    ),
    "git urls": "git@github.com:acme/api.git https://github.com/acme/api.git ssh://git@host:22/r",
    "hugging face api": 'hf_hub_download(repo_id="gpt2", filename="config.json")',
    "working directory": "echo $PWD && OLDPWD=/home/alice/work cd -",
    "tokenizer config": '{"eos_token": "</s>", "pad_token": "<pad>", "tokenizer_class": "T5"}',
    "code naming secrets": (
        "self.password = password\napi_key = self.api_key or os.environ.get(name)\n"
        "client = Client(token=token, password=user_password)\nif token == '(':\n"
        "    token = Name.Builtin\nclass Login:\n    password: str\n    token: Token\n"
    ),
    "format templates": (
        'uri = f"s3://{access_key}:{secret_key}@bucket/key"\nauth = "%s:%s@" % (user, pw)'
    ),
}


@pytest.mark.parametrize("text", FALSE_POSITIVES.values(), ids=FALSE_POSITIVES.keys())
def test_false_positives_are_left_alone(text: str) -> None:
    assert redact_text(text) == (text, 0)


def test_false_positive_payload_is_left_alone() -> None:
    payload = {
        "session_id": "8f14e45f-ceea-467f-a0e6-c3b1f2a9d0e1",
        "tool_use_id": "toolu_01A09q90qw90lq917835lq9X",
        "tool_input": {"command": FALSE_POSITIVES["mkdir -p"]},
        "eos_token": "</s>",
    }
    assert redact(payload) == (payload, 0)


# Properties --------------------------------------------------------------------------------

fragments = st.sampled_from(
    [
        *("password=", "sk-ant-", "-----BEGIN RSA PRIVATE KEY-----", "Bearer ", "://u:", "\\n"),
        *("mysql -p", "curl -u a:", "token: ", '"secret": "', "Basic ", "AKIA", "[REDACTED:x]"),
        *("\ud800", "\udfff", "\x00", "\u2028", "\\", '"', "'", "\n", " ", "-", ":", "$", "@"),
    ]
)
odd_text = st.one_of(
    st.lists(st.one_of(st.characters(), fragments, st.text(ALNUM, min_size=1)), max_size=40).map(
        "".join
    ),
    st.builds(
        lambda c, n: c * n, st.sampled_from(["a", "sk-", "-p x ", "\\n", "é"]), st.integers(0, 5000)
    ),
)
json_like = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | odd_text,
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(
            odd_text | st.sampled_from(["password", "apiKey", "Authorization", "token"]),
            children,
            max_size=4,
        )
    ),
    max_leaves=30,
)


@settings(max_examples=300)
@given(json_like)
def test_redact_never_raises_never_mutates_and_is_idempotent(value: Any) -> None:
    before = repr(value)
    once, _ = redact(value)
    assert repr(value) == before
    twice, count = redact(once)
    assert repr(twice) == repr(once)
    assert count == 0


@settings(max_examples=300)
@given(odd_text)
def test_redact_text_is_idempotent(text: str) -> None:
    once, _ = redact_text(text)
    assert redact_text(once) == (once, 0)


def _password() -> st.SearchStrategy[str]:
    return st.from_regex(r"[A-Za-z]{2}[0-9][A-Za-z0-9!%^*_]{5,20}", fullmatch=True)


def _body(alphabet: str, size: int) -> st.SearchStrategy[str]:
    return st.text(st.sampled_from(alphabet), min_size=size, max_size=size + 20)


# Each draws (text, secret): the secret is the random part that must not survive.
secrets = st.one_of(
    _body(URLSAFE, 90).map(lambda s: (f"sk-ant-api03-{s}", s)),
    st.tuples(_body(URLSAFE, 10), _body(URLSAFE, 40)).map(
        lambda p: (f"sk-proj-{p[0]}T3BlbkFJ{p[1]}", p[0] + "T3BlbkFJ" + p[1])
    ),
    _body(UPPER_DIGITS, 16).map(lambda s: (f"AKIA{s[:16]}", s[:16])),
    _body(ALNUM, 36).map(lambda s: (f"ghp_{s}", s)),
    _body(ALNUM, 24).map(lambda s: (f"xoxb-123456789012-{s}", s)),
    _body(URLSAFE, 35).map(lambda s: (f"AIza{s[:35]}", s[:35])),
    _body(ALNUM, 36).map(lambda s: (f"npm_{s[:36]}", s[:36])),
    _body(URLSAFE, 20).map(lambda s: (f"glpat-{s}", s)),
    _body(ALNUM, 34).map(lambda s: (f"hf_{s}", s)),
    _body(ALNUM, 24).map(lambda s: (f"sk_live_{s}", s)),
    _body(URLSAFE, 40).map(lambda s: (f"eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.{s}", s)),
    _body(ALNUM, 20).map(lambda s: (f"Authorization: Bearer 7{s}", s)),
    _password().map(lambda s: (f"mysql -u root -p{s} shop", s)),
    _password().map(lambda s: (f"psql postgres://app:{s}@db:5432/shop", s)),
    _password().map(lambda s: (f"docker login --password {s} registry", s)),
    _password().map(lambda s: (f"curl -u admin:{s} https://ci.example.com", s)),
    st.tuples(
        st.sampled_from(["DB_PASSWORD", "PGPASSWORD", "SECRET_KEY", "api_key"]), _password()
    ).map(lambda p: (f"{p[0]}={p[1]}", p[1])),
    _password().map(lambda s: (f'{{"password": "{s}"}}', s)),
    _password().map(lambda s: (f"  password: {s}", s)),
)
filler = st.sampled_from(
    [
        "mkdir -p build && ssh -p 2222 host",
        "commit 3f786850e387550fdab836ed7e6dc881de23001b",
        '{"tool_use_id": "toolu_01A09q90qw90lq917835lq9X", "max_tokens": 4096}',
        "Enter your password when prompted.",
        "task-list desk-top",
        "",
    ]
)


@settings(max_examples=200)
@given(st.lists(st.one_of(secrets, filler.map(lambda f: (f, ""))), min_size=1, max_size=8))
def test_generated_secrets_never_survive(parts: list[tuple[str, str]]) -> None:
    text = "\n".join(snippet for snippet, _ in parts)
    out, count = redact_text(text)
    planted = [secret for _, secret in parts if secret]
    for secret in planted:
        assert secret not in out
    assert count == len(planted)
    assert redact_text(out) == (out, 0)
    structured, found = redact({"prompt": text, "nested": [{"command": text}]})
    assert found == 2 * len(planted)
    assert all(secret not in repr(structured) for secret in planted)
