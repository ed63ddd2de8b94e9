"""The current schema (version ``SCHEMA_VERSION``) as SQLAlchemy Core tables, for queries.

The tables are *made* by the ordered steps in ``migrations.py``, never by
``metadata.create_all``: a fresh database and an old one brought up to date must end up
identical, and only one path can guarantee that. ``tests/store/test_migrations.py`` checks
that the migrated columns and indexes are the ones declared here.
"""

from __future__ import annotations

from sqlalchemy import (
    Boolean,
    Column,
    Double,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
)

SCHEMA_VERSION = 5

metadata = MetaData()

schema_version = Table(
    "schema_version",
    metadata,
    Column("version", Integer, nullable=False),
)

runs = Table(
    "runs",
    metadata,
    Column("id", String(16), primary_key=True),
    Column("token_hash", String(64), nullable=False),  # sha256 hex of the delete token
    Column("client", String(32), nullable=False),  # base.client_key of the saver's address
    Column("created", Double, nullable=False),  # seconds since the epoch
    Column("checksum", String(64), nullable=False),  # sha256 hex of the uncompressed JSON
    Column("body", LargeBinary, nullable=False),  # zlib-compressed canonical JSON
    Column("size_bytes", Integer),  # v2: len(body), for accounting without reading bodies
    Index("ix_runs_client_created", "client", "created"),  # v2: the per-minute count
)

snapshots = Table(
    "snapshots",
    metadata,
    Column("session_id", String(64), primary_key=True),
    Column("data", LargeBinary, nullable=False),  # opaque: the live layer's encoding
    Column("meta", Text, nullable=False),  # JSON
    Column("updated", Double, nullable=False),  # seconds since the epoch
    Column("size_bytes", Integer),  # v3: len(data), for the snapshot caps
    Column("client", String(32)),  # v3: client_key of the owner's address; NULL: a student
    Column("owned", Boolean),  # v3: the owner was connected when written (never displaced)
    # v5: the caps read these without the data's overflow pages (migrations._v5)
    Index("ix_snapshots_caps", "updated", "session_id", "size_bytes", "client", "owned"),
)

classes = Table(  # v4
    "classes",
    metadata,
    Column("code", String(8), primary_key=True),
    Column("token_hash", String(64), nullable=False),  # sha256 hex of the teacher token
    Column("title", String(200)),
    Column("client", String(32), nullable=False),  # client_key of the opener's address
    Column("created", Double, nullable=False),  # seconds since the epoch, as the others
    Column("expires", Double, nullable=False),
    Column("claim_by", Double, nullable=False),
    Column("claimed", Boolean, nullable=False),
    Column("ended", Boolean, nullable=False),
)

class_members = Table(  # v4
    "class_members",
    metadata,
    Column("session_id", String(64), primary_key=True),
    Column("code", String(8), nullable=False),
    Column("name", String(100), nullable=False),
    Column("joined", Double, nullable=False),
    Column("resume_hash", String(64)),  # SHA-256 of the session's resume key
    Index("ix_class_members_code", "code"),
)
