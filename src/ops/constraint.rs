//! Constraints: FOREIGN KEY, CHECK, UNIQUE and PRIMARY KEY added, validated
//! and dropped.
//!
//! Adding a constraint to a live table means checking every existing row,
//! and as written the engines do that under a lock that blocks writes for
//! the whole scan (or copy). The online forms split the check from the
//! lock: PostgreSQL adds a foreign key or CHECK `NOT VALID` (new writes are
//! checked from then on) and validates the existing rows later under a
//! lock that lets reads and writes continue; a unique or primary key is
//! built as an index `CONCURRENTLY` and then attached, which only touches
//! the catalog. MySQL builds unique and primary keys in place, and foreign
//! keys in place only with `foreign_key_checks` off.
//!
//! Before a constraint is validated or enforced, a violations check counts
//! the rows that would make it fail, so a dirty table stops the run with a
//! sample of offending keys instead of an error at the end of a long scan.
//! These checks and the enforcing steps run in migrate, after the plan's
//! backfills have cleaned the data.

use crate::dialect::sqlite;
use crate::dialect::EngineKind;
use crate::ops::{
    generated_name, Action, CheckKind, CheckStep, Effect, ForeignKeySpec, ObjectRef, RebuildEdit,
    SqlStep, Step, Symbol,
};
use crate::ops::{Analysis, ChangeClass, Classification, Refusal};
use crate::plan::Phase;
use crate::schema::{ConstraintKind, Schema, Table};

/// Offending keys a failed violations check shows.
const SAMPLE_LIMIT: u32 = 5;

/// The longest identifier PostgreSQL keeps (longer ones are truncated).
const PG_NAME_LIMIT: usize = 63;

/// The name MySQL gives every primary key, whatever the statement calls it.
const MYSQL_PRIMARY: &str = "PRIMARY";

/// The rules for one operation on one engine.
pub(super) struct Rules<'a> {
    pub(super) engine: EngineKind,
    /// `Operation::kind_name()`, the middle part of every rule ID.
    pub(super) kind: &'static str,
    pub(super) schema: &'a Schema,
}

/// A constraint as the violations checks and summaries see it.
struct ForeignKey<'a> {
    table: &'a Table,
    name: &'a str,
    columns: &'a [String],
    ref_table: &'a str,
    ref_columns: &'a [String],
}

impl<'a> Rules<'a> {
    fn rule(&self, variant: &str) -> String {
        let engine = match self.engine {
            EngineKind::Postgres => "pg",
            EngineKind::Mysql => "mysql",
            EngineKind::Sqlite => "sqlite",
        };
        format!("{engine}/{}/{variant}", self.kind)
    }

    fn refuse(&self, variant: &str, reason: impl Into<String>, help: impl Into<String>) -> Refusal {
        Refusal {
            rule: self.rule(variant),
            reason: reason.into(),
            help: help.into(),
        }
    }

    fn classify(
        &self,
        class: ChangeClass,
        variant: &str,
        lock: impl Into<String>,
        reason: impl Into<String>,
        rewrite: Option<&[String]>,
    ) -> Classification {
        Classification {
            class,
            rule: self.rule(variant),
            lock: lock.into(),
            reason: reason.into(),
            rewrite: rewrite.map(|statements| statements.join(";\n")),
        }
    }

    fn q(&self, ident: &str) -> String {
        self.engine.quote_ident(ident)
    }

    fn ql(&self, idents: &[String]) -> String {
        self.engine.quote_list(idents)
    }

    /// `ALTER TABLE "t" ` followed by the clause.
    fn alter(&self, table: &str, clause: &str) -> String {
        format!("ALTER TABLE {} {clause}", self.q(table))
    }

    /// MySQL's request for an online change: the server refuses rather than
    /// fall back to a blocking table copy.
    fn online_mysql(&self, table: &str, clause: &str) -> String {
        self.alter(table, &format!("{clause}, ALGORITHM=INPLACE, LOCK=NONE"))
    }

    fn table(&self, name: &str) -> Result<&'a Table, Refusal> {
        self.schema.table(name).ok_or_else(|| {
            self.refuse(
                "not-in-model",
                format!("table {name} is not in the schema model"),
                "Check the table name, or add the table in an earlier change or plan.",
            )
        })
    }

    fn sqlite_rebuild(&self, what: &str, help: &str) -> Refusal {
        self.refuse(
            "rebuild",
            format!(
                "SQLite cannot {what} on an existing table: it would have to rebuild the table \
                 (create a copy, move every row, swap), holding the database's single write lock \
                 throughout."
            ),
            help,
        )
    }

    /// The table and key columns a constraint on them needs.
    fn needs_columns(table: &str, columns: &[String]) -> Vec<ObjectRef> {
        std::iter::once(ObjectRef::table(table))
            .chain(columns.iter().map(|c| ObjectRef::column(table, c)))
            .collect()
    }

    fn constraint_ref(table: &str, name: &str) -> ObjectRef {
        ObjectRef::Constraint {
            table: table.to_string(),
            name: name.to_string(),
        }
    }

    /// A single-statement SQL step: transactional where DDL is (PostgreSQL),
    /// not on MySQL, where DDL commits implicitly.
    fn sql(&self, statement: String, lock: impl Into<String>, effect: Effect) -> Step {
        Step::Sql(SqlStep {
            statements: vec![statement],
            transactional: self.engine != EngineKind::Mysql,
            lock: lock.into(),
            effect,
        })
    }

    // ---- FOREIGN KEY -------------------------------------------------

    pub(super) fn add_foreign_key(
        &self,
        table_name: &str,
        name: &str,
        fk: &ForeignKeySpec,
        not_valid: bool,
    ) -> Result<Analysis, Refusal> {
        match self.engine {
            EngineKind::Sqlite if not_valid => {
                return Err(self.refuse(
                    "not-valid",
                    "SQLite has no NOT VALID: a foreign key added by rebuilding the table is \
                     checked against every existing row (PRAGMA foreign_key_check) before the \
                     rebuild commits.",
                    "Remove NOT VALID: zerodown checks the existing rows for orphans in migrate, \
                     then rebuilds the table with the key.",
                ))
            }
            EngineKind::Mysql if not_valid => {
                return Err(self.refuse(
                    "not-valid",
                    "MySQL and MariaDB have no NOT VALID: a foreign key is either checked \
                     against every existing row or added unchecked.",
                    "Remove NOT VALID: zerodown checks the existing rows for orphans in migrate, \
                     then adds the key online.",
                ))
            }
            _ => {}
        }
        let table = self.table(table_name)?;
        let ref_table = self.table(&fk.ref_table)?;
        // `REFERENCES t` without columns means t's primary key.
        let ref_columns: &[String] = if fk.ref_columns.is_empty() {
            &ref_table.primary_key
        } else {
            &fk.ref_columns
        };
        if ref_columns.is_empty() {
            return Err(self.refuse(
                "no-referenced-key",
                format!(
                    "the foreign key names no referenced columns and {} has no primary key",
                    fk.ref_table
                ),
                format!(
                    "Name the referenced columns: REFERENCES {} (...).",
                    fk.ref_table
                ),
            ));
        }
        if ref_columns.len() != fk.columns.len() {
            return Err(self.refuse(
                "column-count",
                format!(
                    "the foreign key has {} column(s) but references {} column(s) of {}",
                    fk.columns.len(),
                    ref_columns.len(),
                    fk.ref_table
                ),
                "Give as many referencing columns as referenced ones, in matching order.",
            ));
        }
        let key = ForeignKey {
            table,
            name,
            columns: &fk.columns,
            ref_table: &fk.ref_table,
            ref_columns,
        };
        let mut clause = format!(
            "ADD CONSTRAINT {} FOREIGN KEY ({}) REFERENCES {} ({})",
            self.q(name),
            self.ql(&fk.columns),
            self.q(&fk.ref_table),
            self.ql(ref_columns)
        );
        for action in &fk.actions {
            clause.push(' ');
            clause.push_str(action);
        }
        let needs: Vec<ObjectRef> = Self::needs_columns(table_name, &fk.columns)
            .into_iter()
            .chain(Self::needs_columns(&fk.ref_table, ref_columns))
            .collect();
        let creates = vec![Self::constraint_ref(table_name, name)];
        let exists = Effect::ConstraintExists {
            table: table_name.to_string(),
            constraint: name.to_string(),
        };
        let description = self.describe_foreign_key(&key);

        if self.engine == EngineKind::Sqlite {
            let classification = self.classify(
                ChangeClass::Transforming,
                "check-then-rebuild",
                sqlite::LOCK_TABLE_REBUILD,
                "SQLite cannot add a foreign key to an existing table: the table is rebuilt with \
                 it (SQLite's documented procedure, one transaction: every row copied into a new \
                 table, PRAGMA foreign_key_check, swap), which holds the database's write lock \
                 for the whole copy. The rows are checked for orphans in migrate first, so a \
                 dirty table stops the run before the copy. SQLite enforces the key on \
                 connections that set PRAGMA foreign_keys = ON.",
                None,
            );
            let add = Action {
                creates,
                needs,
                ..action(
                    "add-foreign-key",
                    Phase::Migrate,
                    Symbol::Add,
                    format!("rebuild {table_name} with {description}"),
                    super::sqlite_rebuild(
                        table_name,
                        vec![RebuildEdit::AddForeignKey {
                            name: name.to_string(),
                            columns: fk.columns.clone(),
                            ref_table: fk.ref_table.clone(),
                            ref_columns: ref_columns.to_vec(),
                            actions: fk.actions.clone(),
                        }],
                    ),
                )
            };
            return Ok(Analysis {
                classification,
                actions: vec![self.orphans_action(&key), add],
            });
        }
        if self.engine == EngineKind::Mysql {
            let statements = vec![
                "SET SESSION foreign_key_checks = 0".to_string(),
                self.online_mysql(table_name, &clause),
                "SET SESSION foreign_key_checks = 1".to_string(),
            ];
            let classification = self.classify(
                ChangeClass::Unsafe,
                "checks-off-inplace",
                format!(
                    "ALGORITHM=COPY (foreign_key_checks on): {table_name} is copied and writes \
                     to it are blocked for the whole copy"
                ),
                "With foreign_key_checks on, MySQL can add a foreign key only by copying the \
                 table. With the checks off it adds the key in place while writes continue, but \
                 does not check the existing rows: zerodown checks them for orphans in migrate \
                 first, then adds the key with ALGORITHM=INPLACE, LOCK=NONE, the checks off for \
                 that session only. A row written between the check and the ALTER is not \
                 re-verified; writes after the ALTER are.",
                Some(&statements),
            );
            let add = Action {
                creates,
                needs,
                ..action(
                    "add-foreign-key",
                    Phase::Migrate,
                    Symbol::Add,
                    format!("add {description} online (foreign_key_checks off for the session)"),
                    Step::Sql(SqlStep {
                        statements,
                        transactional: false,
                        lock: "none (ALGORITHM=INPLACE, LOCK=NONE)".to_string(),
                        effect: exists,
                    }),
                )
            };
            return Ok(Analysis {
                classification,
                actions: vec![self.orphans_action(&key), add],
            });
        }

        let add_not_valid = Action {
            creates,
            needs,
            ..action(
                "add-not-valid",
                Phase::Expand,
                Symbol::Add,
                format!("add {description}, NOT VALID (checks new writes only)"),
                self.sql(
                    self.alter(table_name, &format!("{clause} NOT VALID")),
                    format!(
                        "SHARE ROW EXCLUSIVE on {table_name} and {} (brief: existing rows are \
                         not scanned)",
                        fk.ref_table
                    ),
                    exists,
                ),
            )
        };
        if not_valid {
            let classification = self.classify(
                ChangeClass::Additive,
                "not-valid",
                format!(
                    "SHARE ROW EXCLUSIVE on {table_name} and {} (brief: existing rows are not \
                     scanned)",
                    fk.ref_table
                ),
                "Added NOT VALID, the foreign key checks new writes only; existing rows are not \
                 scanned, so the locks are held only briefly. VALIDATE CONSTRAINT checks them \
                 online later.",
                None,
            );
            return Ok(Analysis {
                classification,
                actions: vec![add_not_valid],
            });
        }
        let classification = self.classify(
            ChangeClass::Transforming,
            "not-valid-then-validate",
            format!(
                "SHARE ROW EXCLUSIVE on {table_name} and {} while every existing row is checked \
                 (blocks writes to both)",
                fk.ref_table
            ),
            "As written, PostgreSQL checks every existing row while holding locks that block \
             writes to both tables. Added NOT VALID in expand, the key checks new writes at once \
             and holds its locks only briefly; in migrate the existing rows are checked for \
             orphans and the key is validated under SHARE UPDATE EXCLUSIVE, which lets reads and \
             writes continue.",
            None,
        );
        Ok(Analysis {
            classification,
            actions: vec![
                add_not_valid,
                self.orphans_action(&key),
                self.validate_action(table_name, name, Some(&fk.ref_table), &description),
            ],
        })
    }

    fn describe_foreign_key(&self, key: &ForeignKey<'_>) -> String {
        format!(
            "foreign key {}.{} ({}) references {} ({})",
            key.table.name,
            key.name,
            key.columns.join(", "),
            key.ref_table,
            key.ref_columns.join(", ")
        )
    }

    // ---- CHECK -------------------------------------------------------

    pub(super) fn add_check(
        &self,
        table_name: &str,
        name: &str,
        expr: &str,
        not_valid: bool,
    ) -> Result<Analysis, Refusal> {
        match self.engine {
            EngineKind::Sqlite if not_valid => {
                return Err(self.refuse(
                    "not-valid",
                    "SQLite has no NOT VALID: a CHECK added by rebuilding the table is checked \
                     against every existing row as the rows are copied.",
                    "Remove NOT VALID: zerodown checks the existing rows in migrate, then \
                     rebuilds the table with the CHECK.",
                ))
            }
            EngineKind::Sqlite => {
                let table = self.table(table_name)?;
                let classification = self.classify(
                    ChangeClass::Transforming,
                    "check-then-rebuild",
                    sqlite::LOCK_TABLE_REBUILD,
                    "SQLite cannot add a CHECK to an existing table: the table is rebuilt with \
                     it (SQLite's documented procedure, one transaction: every row copied into a \
                     new table, which checks it, then swapped in), holding the database's write \
                     lock for the whole copy. The rows are checked in migrate first, so a dirty \
                     table stops the run before the copy.",
                    None,
                );
                let add = Action {
                    creates: vec![Self::constraint_ref(table_name, name)],
                    needs: vec![ObjectRef::table(table_name)],
                    ..action(
                        "add-check",
                        Phase::Migrate,
                        Symbol::Add,
                        format!("rebuild {table_name} with check {name} ({expr})"),
                        super::sqlite_rebuild(
                            table_name,
                            vec![RebuildEdit::AddCheck {
                                name: name.to_string(),
                                expr: expr.to_string(),
                            }],
                        ),
                    )
                };
                return Ok(Analysis {
                    classification,
                    actions: vec![self.check_failures_action(table, name, expr), add],
                });
            }
            EngineKind::Mysql if not_valid => {
                return Err(self.refuse(
                    "not-valid",
                    "MySQL and MariaDB have no NOT VALID: a CHECK constraint is checked against \
                     every existing row when it is added.",
                    "Remove NOT VALID; note that adding a CHECK on MySQL copies the table.",
                ))
            }
            EngineKind::Mysql => {
                return Err(self.refuse(
                    "copy",
                    format!(
                        "MySQL and MariaDB add a CHECK constraint only with ALGORITHM=COPY: \
                         {table_name} is copied and writes to it are blocked for the whole copy. \
                         There is no online form."
                    ),
                    "Run it as a raw change (`raw:` with `phase:`) in a maintenance window, or \
                     enforce the rule in BEFORE INSERT / BEFORE UPDATE triggers (SIGNAL SQLSTATE \
                     '45000'), which are added without copying the table.",
                ))
            }
            EngineKind::Postgres => {}
        }
        let table = self.table(table_name)?;
        let description = format!("check {table_name}.{name} ({expr})");
        let add_not_valid = Action {
            creates: vec![Self::constraint_ref(table_name, name)],
            needs: vec![ObjectRef::table(table_name)],
            ..action(
                "add-not-valid",
                Phase::Expand,
                Symbol::Add,
                format!("add {description}, NOT VALID (checks new writes only)"),
                self.sql(
                    self.alter(
                        table_name,
                        &format!("ADD CONSTRAINT {} CHECK ({expr}) NOT VALID", self.q(name)),
                    ),
                    "ACCESS EXCLUSIVE (catalog only, brief)",
                    Effect::ConstraintExists {
                        table: table_name.to_string(),
                        constraint: name.to_string(),
                    },
                ),
            )
        };
        if not_valid {
            let classification = self.classify(
                ChangeClass::Additive,
                "not-valid",
                "ACCESS EXCLUSIVE (catalog only, brief)",
                "Added NOT VALID, the CHECK applies to new writes only; existing rows are not \
                 scanned, so the lock is held only briefly. VALIDATE CONSTRAINT checks them \
                 online later.",
                None,
            );
            return Ok(Analysis {
                classification,
                actions: vec![add_not_valid],
            });
        }
        let classification = self.classify(
            ChangeClass::Transforming,
            "not-valid-then-validate",
            format!(
                "ACCESS EXCLUSIVE on {table_name} while every existing row is checked (blocks \
                 reads and writes)"
            ),
            "As written, PostgreSQL checks every existing row under ACCESS EXCLUSIVE, blocking \
             reads and writes. Added NOT VALID in expand, the CHECK applies to new writes at once \
             with a brief lock; in migrate the existing rows are checked and the constraint is \
             validated under SHARE UPDATE EXCLUSIVE, which lets reads and writes continue.",
            None,
        );
        Ok(Analysis {
            classification,
            actions: vec![
                add_not_valid,
                self.check_failures_action(table, name, expr),
                self.validate_action(table_name, name, None, &description),
            ],
        })
    }

    // ---- UNIQUE / PRIMARY KEY ----------------------------------------

    pub(super) fn add_unique(
        &self,
        table_name: &str,
        name: &str,
        columns: &[String],
    ) -> Result<Analysis, Refusal> {
        if self.engine == EngineKind::Sqlite {
            return Err(self.sqlite_rebuild(
                "add a UNIQUE constraint",
                format!(
                    "Write `CREATE UNIQUE INDEX {name} ON {table_name} ({})` instead: SQLite \
                     builds it on the existing table and it enforces the same uniqueness.",
                    columns.join(", ")
                )
                .as_str(),
            ));
        }
        let table = self.table(table_name)?;
        let description = format!("unique {table_name}.{name} ({})", columns.join(", "));
        let constraint = Self::constraint_ref(table_name, name);
        let exists = Effect::ConstraintExists {
            table: table_name.to_string(),
            constraint: name.to_string(),
        };
        if self.engine == EngineKind::Mysql {
            let statement = self.online_mysql(
                table_name,
                &format!(
                    "ADD CONSTRAINT {} UNIQUE ({})",
                    self.q(name),
                    self.ql(columns)
                ),
            );
            let classification = self.classify(
                ChangeClass::Transforming,
                "check-then-add",
                "none (the index is built in place while writes continue)",
                "MySQL builds a unique index in place while writes continue, but a duplicate \
                 makes it fail only at the end of the build. zerodown checks for duplicates in \
                 migrate first, and requests ALGORITHM=INPLACE, LOCK=NONE so the server refuses \
                 rather than fall back to a blocking table copy.",
                None,
            );
            let add = Action {
                creates: vec![constraint],
                needs: Self::needs_columns(table_name, columns),
                ..action(
                    "add-constraint",
                    Phase::Migrate,
                    Symbol::Add,
                    format!("add {description} online"),
                    self.sql(statement, "none (ALGORITHM=INPLACE, LOCK=NONE)", exists),
                )
            };
            return Ok(Analysis {
                classification,
                actions: vec![self.duplicates_action(table, columns), add],
            });
        }
        self.pg_index_then_attach(table, name, columns, "UNIQUE", &description)
    }

    pub(super) fn add_primary_key(
        &self,
        table_name: &str,
        name: Option<&str>,
        columns: &[String],
    ) -> Result<Analysis, Refusal> {
        if self.engine == EngineKind::Sqlite {
            return Err(self.sqlite_rebuild(
                "add a primary key",
                "Declare the primary key when the table is created, or add a unique index \
                 (CREATE UNIQUE INDEX) on NOT NULL columns instead.",
            ));
        }
        let table = self.table(table_name)?;
        let existing = table.constraints.values().find_map(|c| match &c.kind {
            ConstraintKind::PrimaryKey { .. } => Some(c.name.as_str()),
            _ => None,
        });
        if !table.primary_key.is_empty() || existing.is_some() {
            return Err(self.refuse(
                "exists",
                format!(
                    "{table_name} already has a primary key ({}); a table has only one",
                    table.primary_key.join(", ")
                ),
                "Add a UNIQUE constraint on the new columns instead, or replace the key with a \
                 raw change in a maintenance window.",
            ));
        }
        if self.engine == EngineKind::Mysql {
            let statement = self.online_mysql(
                table_name,
                &format!("ADD PRIMARY KEY ({})", self.ql(columns)),
            );
            let classification = self.classify(
                ChangeClass::Transforming,
                "check-then-add",
                "none (the table is rebuilt in place while writes continue)",
                "MySQL adds a primary key by rebuilding the table in place while writes \
                 continue, but a duplicate or NULL key makes it fail only at the end of the \
                 rebuild (and nullable key columns become NOT NULL). zerodown checks both in \
                 migrate first, and requests ALGORITHM=INPLACE, LOCK=NONE so the server refuses \
                 rather than fall back to a blocking table copy.",
                None,
            );
            let add = Action {
                creates: vec![Self::constraint_ref(table_name, MYSQL_PRIMARY)],
                needs: Self::needs_columns(table_name, columns),
                ..action(
                    "add-primary-key",
                    Phase::Migrate,
                    Symbol::Add,
                    format!(
                        "add primary key {table_name} ({}) online",
                        columns.join(", ")
                    ),
                    self.sql(
                        statement,
                        "none (ALGORITHM=INPLACE, LOCK=NONE; the table is rebuilt in place)",
                        Effect::ConstraintExists {
                            table: table_name.to_string(),
                            constraint: MYSQL_PRIMARY.to_string(),
                        },
                    ),
                )
            };
            return Ok(Analysis {
                classification,
                actions: vec![
                    self.nulls_action(table, columns),
                    self.duplicates_action(table, columns),
                    add,
                ],
            });
        }
        let mut nullable: Vec<&str> = Vec::new();
        for name in columns {
            let column = table.column(name).ok_or_else(|| {
                self.refuse(
                    "not-in-model",
                    format!("{table_name} has no column {name} in the schema model"),
                    "Check the column name, or add the column in an earlier change or plan.",
                )
            })?;
            if column.nullable {
                nullable.push(name);
            }
        }
        if !nullable.is_empty() {
            return Err(self.refuse(
                "nullable-column",
                format!(
                    "primary key column(s) {} of {table_name} are nullable: attaching the key \
                     would make them NOT NULL by scanning the table under ACCESS EXCLUSIVE",
                    nullable.join(", ")
                ),
                format!(
                    "Make them NOT NULL first, in an earlier plan (`ALTER TABLE {table_name} \
                     ALTER COLUMN {} SET NOT NULL`, which zerodown validates online), then add \
                     the primary key.",
                    nullable[0]
                ),
            ));
        }
        // Without a name PostgreSQL would call it `<table>_pkey`; keep that
        // name so the constraint is where the user expects it.
        let name = match name {
            Some(name) => name.to_string(),
            None => {
                let default = format!("{table_name}_pkey");
                if default.len() <= PG_NAME_LIMIT {
                    default
                } else {
                    generated_name(&[table_name, "pkey"])
                }
            }
        };
        let description = format!("primary key {table_name}.{name} ({})", columns.join(", "));
        self.pg_index_then_attach(table, &name, columns, "PRIMARY KEY", &description)
    }

    /// PostgreSQL: check for duplicates, build the unique index
    /// concurrently, attach it as the constraint. The index gets the
    /// constraint's name, because attaching renames it to that name anyway:
    /// the build's effect (a valid index of that name) stays true after the
    /// attach, so a resumed run never builds it twice.
    fn pg_index_then_attach(
        &self,
        table: &Table,
        name: &str,
        columns: &[String],
        constraint_sql: &str,
        description: &str,
    ) -> Result<Analysis, Refusal> {
        let table_name = table.name.as_str();
        if self.schema.indexes.contains_key(name) {
            return Err(self.refuse(
                "name-taken",
                format!("an index named {name} already exists"),
                "Give the constraint another name: PostgreSQL builds its index under the \
                 constraint's name.",
            ));
        }
        let build = format!(
            "CREATE UNIQUE INDEX CONCURRENTLY {} ON {} ({})",
            self.q(name),
            self.q(table_name),
            self.ql(columns)
        );
        let attach = self.alter(
            table_name,
            &format!(
                "ADD CONSTRAINT {} {constraint_sql} USING INDEX {}",
                self.q(name),
                self.q(name)
            ),
        );
        let classification = self.classify(
            ChangeClass::Unsafe,
            "concurrent-index",
            format!(
                "ACCESS EXCLUSIVE on {table_name} for the whole index build (blocks reads and \
                 writes)"
            ),
            format!(
                "As written, PostgreSQL builds the {constraint_sql} index inside ALTER TABLE, \
                 holding ACCESS EXCLUSIVE until the build is done. zerodown checks for \
                 duplicates, builds the index CONCURRENTLY (reads and writes continue), then \
                 attaches it as the constraint, which only touches the catalog."
            ),
            Some(&[build.clone(), attach.clone()][..]),
        );
        let index = ObjectRef::Index {
            name: name.to_string(),
        };
        let build_index = Action {
            creates: vec![index.clone()],
            needs: Self::needs_columns(table_name, columns),
            ..action(
                "build-index",
                Phase::Migrate,
                Symbol::Add,
                format!(
                    "build unique index {name} on {table_name} ({}) concurrently",
                    columns.join(", ")
                ),
                Step::Sql(SqlStep {
                    statements: vec![build],
                    transactional: false,
                    lock: "SHARE UPDATE EXCLUSIVE (reads and writes continue)".to_string(),
                    effect: Effect::IndexValid {
                        index: name.to_string(),
                    },
                }),
            )
        };
        let add_constraint = Action {
            creates: vec![Self::constraint_ref(table_name, name)],
            needs: vec![ObjectRef::table(table_name), index],
            ..action(
                "add-constraint",
                Phase::Migrate,
                Symbol::Add,
                format!("add {description} using index {name}"),
                self.sql(
                    attach,
                    "ACCESS EXCLUSIVE (catalog only, brief)",
                    Effect::ConstraintExists {
                        table: table_name.to_string(),
                        constraint: name.to_string(),
                    },
                ),
            )
        };
        Ok(Analysis {
            classification,
            actions: vec![
                self.duplicates_action(table, columns),
                build_index,
                add_constraint,
            ],
        })
    }

    // ---- VALIDATE / DROP ---------------------------------------------

    pub(super) fn validate_constraint(
        &self,
        table_name: &str,
        name: &str,
    ) -> Result<Analysis, Refusal> {
        if self.engine != EngineKind::Postgres {
            return Err(self.refuse(
                "unsupported",
                format!(
                    "{} has no VALIDATE CONSTRAINT: its constraints are checked when they are \
                     added, never left unvalidated.",
                    if self.engine == EngineKind::Mysql {
                        "MySQL/MariaDB"
                    } else {
                        "SQLite"
                    }
                ),
                "Remove this change: the constraint it names is already enforced.",
            ));
        }
        let table = self.table(table_name)?;
        let constraint = table.constraints.get(name).ok_or_else(|| {
            self.refuse(
                "not-in-model",
                format!("{table_name} has no constraint {name} in the schema model"),
                "Check the constraint name.",
            )
        })?;
        let (check, ref_table, description) = match &constraint.kind {
            ConstraintKind::ForeignKey {
                columns,
                ref_table,
                ref_columns,
            } => {
                let ref_columns: &[String] = if ref_columns.is_empty() {
                    self.table(ref_table)?.primary_key.as_slice()
                } else {
                    ref_columns
                };
                let key = ForeignKey {
                    table,
                    name,
                    columns,
                    ref_table,
                    ref_columns,
                };
                (
                    self.orphans_action(&key),
                    Some(ref_table.as_str()),
                    self.describe_foreign_key(&key),
                )
            }
            ConstraintKind::Check { expr } => (
                self.check_failures_action(table, name, expr),
                None,
                format!("check {table_name}.{name} ({expr})"),
            ),
            ConstraintKind::Unique { .. } | ConstraintKind::PrimaryKey { .. } => {
                return Err(self.refuse(
                    "unique-or-primary-key",
                    format!(
                        "{name} is a unique or primary key constraint: PostgreSQL validates only \
                         foreign key and CHECK constraints (the others are always valid)"
                    ),
                    "Remove this change: the constraint is already enforced.",
                ))
            }
        };
        let lock = match ref_table {
            Some(r) => format!(
                "SHARE UPDATE EXCLUSIVE on {table_name} while it scans, ROW SHARE on {r} (reads \
                 and writes continue)"
            ),
            None => "SHARE UPDATE EXCLUSIVE while it scans (reads and writes continue)".to_string(),
        };
        let classification = self.classify(
            ChangeClass::Additive,
            "online",
            lock,
            "VALIDATE CONSTRAINT checks the existing rows under a lock that lets reads and \
             writes continue. It runs in migrate, after the plan's backfills, behind a violations \
             check that stops the run with a sample of offending keys.",
            None,
        );
        Ok(Analysis {
            classification,
            actions: vec![
                check,
                self.validate_action(table_name, name, ref_table, &description),
            ],
        })
    }

    pub(super) fn drop_constraint(
        &self,
        table_name: &str,
        name: &str,
    ) -> Result<Analysis, Refusal> {
        let (variant, statement, lock) = match self.engine {
            EngineKind::Sqlite => return self.sqlite_drop_constraint(table_name, name),
            EngineKind::Postgres => (
                "contract",
                self.alter(table_name, &format!("DROP CONSTRAINT {}", self.q(name))),
                "ACCESS EXCLUSIVE (catalog only, brief; a foreign key also locks the referenced \
                 table briefly)",
            ),
            EngineKind::Mysql => {
                let kind = self
                    .table(table_name)?
                    .constraints
                    .get(name)
                    .map(|c| &c.kind)
                    .ok_or_else(|| {
                        self.refuse(
                            "not-in-model",
                            format!("{table_name} has no constraint {name} in the schema model"),
                            "Check the constraint name: MySQL drops each kind of constraint \
                             with its own statement, so zerodown must know which kind it is.",
                        )
                    })?;
                let online = "none (ALGORITHM=INPLACE, LOCK=NONE)";
                match kind {
                    ConstraintKind::ForeignKey { .. } => (
                        "foreign-key",
                        self.online_mysql(
                            table_name,
                            &format!("DROP FOREIGN KEY {}", self.q(name)),
                        ),
                        online,
                    ),
                    ConstraintKind::Unique { .. } => (
                        "unique",
                        self.online_mysql(table_name, &format!("DROP INDEX {}", self.q(name))),
                        online,
                    ),
                    // `DROP CONSTRAINT` rather than MySQL's `DROP CHECK`,
                    // which MariaDB does not accept.
                    ConstraintKind::Check { .. } => (
                        "check",
                        self.online_mysql(table_name, &format!("DROP CONSTRAINT {}", self.q(name))),
                        online,
                    ),
                    ConstraintKind::PrimaryKey { .. } => {
                        return Err(self.refuse(
                            "primary-key",
                            format!(
                                "MySQL drops a primary key only by copying {table_name} \
                                 (ALGORITHM=COPY), blocking writes for the whole copy"
                            ),
                            "Keep the primary key, or drop it with a raw change in a maintenance \
                             window.",
                        ))
                    }
                }
            }
        };
        let classification = self.classify(
            ChangeClass::Subtractive,
            variant,
            lock,
            "Old code may rely on the constraint (a unique key for upserts, a foreign key's \
             cascade): it is dropped in contract, once only new code runs.",
            None,
        );
        let constraint = Self::constraint_ref(table_name, name);
        let drop = Action {
            removes: vec![constraint],
            ..action(
                "drop-constraint",
                Phase::Contract,
                Symbol::Remove,
                format!("drop constraint {table_name}.{name}"),
                self.sql(
                    statement,
                    lock,
                    Effect::ConstraintAbsent {
                        table: table_name.to_string(),
                        constraint: name.to_string(),
                    },
                ),
            )
        };
        Ok(Analysis {
            classification,
            actions: vec![drop],
        })
    }

    /// SQLite drops a constraint by rebuilding the table without it, in
    /// contract. Not the primary key: without it, the rows of a rowid
    /// table keep their rowids but lose what references them by key.
    fn sqlite_drop_constraint(&self, table_name: &str, name: &str) -> Result<Analysis, Refusal> {
        let kind = self
            .table(table_name)?
            .constraints
            .get(name)
            .map(|c| &c.kind)
            .ok_or_else(|| {
                self.refuse(
                    "not-in-model",
                    format!("{table_name} has no constraint {name} in the schema model"),
                    "Check the constraint name (unnamed constraints have PostgreSQL's default \
                     names, e.g. orders_user_id_fkey).",
                )
            })?;
        if matches!(kind, ConstraintKind::PrimaryKey { .. }) {
            return Err(self.sqlite_rebuild(
                "drop a primary key",
                "Keep the primary key: SQLite cannot change a table's primary key in place, and \
                 a rebuild without it changes how every row is addressed.",
            ));
        }
        let classification = self.classify(
            ChangeClass::Subtractive,
            "rebuild",
            sqlite::LOCK_TABLE_REBUILD,
            "Old code may rely on the constraint (a unique key for upserts, a foreign key's \
             cascade): it is dropped in contract, once only new code runs. SQLite cannot drop a \
             constraint in place: the table is rebuilt without it (SQLite's documented \
             procedure, one transaction), holding the database's write lock for the whole copy.",
            None,
        );
        let drop = Action {
            removes: vec![Self::constraint_ref(table_name, name)],
            ..action(
                "drop-constraint",
                Phase::Contract,
                Symbol::Remove,
                format!("rebuild {table_name} without constraint {name}"),
                super::sqlite_rebuild(
                    table_name,
                    vec![RebuildEdit::DropConstraint {
                        name: name.to_string(),
                    }],
                ),
            )
        };
        Ok(Analysis {
            classification,
            actions: vec![drop],
        })
    }

    /// PostgreSQL `VALIDATE CONSTRAINT`, in migrate.
    fn validate_action(
        &self,
        table: &str,
        name: &str,
        ref_table: Option<&str>,
        description: &str,
    ) -> Action {
        let lock = match ref_table {
            Some(r) => {
                format!("SHARE UPDATE EXCLUSIVE, ROW SHARE on {r} (reads and writes continue)")
            }
            None => "SHARE UPDATE EXCLUSIVE (reads and writes continue)".to_string(),
        };
        Action {
            needs: vec![Self::constraint_ref(table, name)],
            ..action(
                "validate",
                Phase::Migrate,
                Symbol::Change,
                format!("validate {description}"),
                self.sql(
                    self.alter(table, &format!("VALIDATE CONSTRAINT {}", self.q(name))),
                    lock,
                    Effect::ConstraintValidated {
                        table: table.to_string(),
                        constraint: name.to_string(),
                    },
                ),
            )
        }
    }

    // ---- violations checks -------------------------------------------

    /// The columns a sample shows to identify an offending row: the
    /// table's primary key, or the constraint's own columns without one.
    fn sample_columns<'t>(table: &'t Table, fallback: &'t [String]) -> &'t [String] {
        if table.primary_key.is_empty() {
            fallback
        } else {
            &table.primary_key
        }
    }

    fn check_action(key: &str, summary: String, needs: Vec<ObjectRef>, check: CheckStep) -> Action {
        Action {
            needs,
            ..action(
                key,
                Phase::Migrate,
                Symbol::Change,
                summary,
                Step::Check(check),
            )
        }
    }

    /// Rows whose key is fully non-null (a key with a NULL column is not
    /// checked, MATCH SIMPLE) and has no match in the referenced table.
    fn orphans_action(&self, key: &ForeignKey<'_>) -> Action {
        let child = self.q("zd_child");
        let parent = self.q("zd_parent");
        let mut conditions: Vec<String> = key
            .columns
            .iter()
            .map(|c| format!("{child}.{} IS NOT NULL", self.q(c)))
            .collect();
        let matches: Vec<String> = key
            .columns
            .iter()
            .zip(key.ref_columns)
            .map(|(c, r)| format!("{parent}.{} = {child}.{}", self.q(r), self.q(c)))
            .collect();
        conditions.push(format!(
            "NOT EXISTS (SELECT 1 FROM {} AS {parent} WHERE {})",
            self.q(key.ref_table),
            matches.join(" AND ")
        ));
        let from_where = format!(
            "FROM {} AS {child} WHERE {}",
            self.q(&key.table.name),
            conditions.join(" AND ")
        );
        let sample: Vec<String> = Self::sample_columns(key.table, key.columns)
            .iter()
            .map(|c| format!("{child}.{}", self.q(c)))
            .collect();
        let needs: Vec<ObjectRef> = Self::needs_columns(&key.table.name, key.columns)
            .into_iter()
            .chain(Self::needs_columns(key.ref_table, key.ref_columns))
            .collect();
        Self::check_action(
            "check-orphans",
            format!(
                "check {}.{} has no orphans: every non-null ({}) exists in {} ({})",
                key.table.name,
                key.name,
                key.columns.join(", "),
                key.ref_table,
                key.ref_columns.join(", ")
            ),
            needs,
            CheckStep {
                kind: CheckKind::Violations,
                count_sql: format!("SELECT COUNT(*) {from_where}"),
                sample_sql: Some(format!(
                    "SELECT {} {from_where} LIMIT {SAMPLE_LIMIT}",
                    sample.join(", ")
                )),
                guards: format!(
                    "every {} row with a non-null ({}) references an existing {} row",
                    key.table.name,
                    key.columns.join(", "),
                    key.ref_table
                ),
            },
        )
    }

    /// Key values held by more than one row; rows with a NULL key column
    /// never conflict (NULL is distinct from NULL in a unique index).
    fn duplicates_action(&self, table: &Table, columns: &[String]) -> Action {
        let t = self.q(&table.name);
        let key = self.ql(columns);
        let non_null: Vec<String> = columns
            .iter()
            .map(|c| format!("{} IS NOT NULL", self.q(c)))
            .collect();
        let groups = format!(
            "SELECT {key} FROM {t} WHERE {} GROUP BY {key} HAVING COUNT(*) > 1",
            non_null.join(" AND ")
        );
        let sample_sql = if table.primary_key.is_empty() {
            format!("{groups} LIMIT {SAMPLE_LIMIT}")
        } else {
            let tuple = if columns.len() == 1 {
                key.clone()
            } else {
                format!("({key})")
            };
            format!(
                "SELECT {} FROM {t} WHERE {tuple} IN ({groups}) ORDER BY {key} LIMIT {SAMPLE_LIMIT}",
                self.ql(&table.primary_key)
            )
        };
        Self::check_action(
            "check-duplicates",
            format!(
                "check {} has no duplicate ({})",
                table.name,
                columns.join(", ")
            ),
            Self::needs_columns(&table.name, columns),
            CheckStep {
                kind: CheckKind::Violations,
                count_sql: format!(
                    "SELECT COUNT(*) FROM ({groups}) AS {}",
                    self.q("zd_duplicates")
                ),
                sample_sql: Some(sample_sql),
                guards: format!(
                    "no two {} rows share a non-null ({})",
                    table.name,
                    columns.join(", ")
                ),
            },
        )
    }

    /// Rows with a NULL in a key column (a primary key admits none).
    fn nulls_action(&self, table: &Table, columns: &[String]) -> Action {
        let any_null: Vec<String> = columns
            .iter()
            .map(|c| format!("{} IS NULL", self.q(c)))
            .collect();
        let from_where = format!(
            "FROM {} WHERE {}",
            self.q(&table.name),
            any_null.join(" OR ")
        );
        Self::check_action(
            "check-nulls",
            format!(
                "check {} has no NULL in ({})",
                table.name,
                columns.join(", ")
            ),
            Self::needs_columns(&table.name, columns),
            CheckStep {
                kind: CheckKind::Violations,
                count_sql: format!("SELECT COUNT(*) {from_where}"),
                sample_sql: Some(format!(
                    "SELECT {} {from_where} LIMIT {SAMPLE_LIMIT}",
                    self.ql(Self::sample_columns(table, columns))
                )),
                guards: format!(
                    "no {} row has a NULL in ({})",
                    table.name,
                    columns.join(", ")
                ),
            },
        )
    }

    /// Rows the CHECK rejects: those where the expression is false (NULL
    /// passes a CHECK). Without a primary key to identify them, the sample
    /// shows whole rows, since a CHECK names no key columns.
    fn check_failures_action(&self, table: &Table, name: &str, expr: &str) -> Action {
        let from_where = format!("FROM {} WHERE NOT ({expr})", self.q(&table.name));
        let sample = if table.primary_key.is_empty() {
            "*".to_string()
        } else {
            self.ql(&table.primary_key)
        };
        Self::check_action(
            "check-violations",
            format!("check every {} row passes {name} ({expr})", table.name),
            vec![ObjectRef::table(&table.name)],
            CheckStep {
                kind: CheckKind::Violations,
                count_sql: format!("SELECT COUNT(*) {from_where}"),
                sample_sql: Some(format!("SELECT {sample} {from_where} LIMIT {SAMPLE_LIMIT}")),
                guards: format!("every {} row passes CHECK ({expr})", table.name),
            },
        )
    }
}

/// An action with nothing created, needed or removed yet.
fn action(key: &str, phase: Phase, symbol: Symbol, summary: String, step: Step) -> Action {
    Action {
        key: key.to_string(),
        phase,
        symbol,
        summary,
        step,
        creates: Vec::new(),
        needs: Vec::new(),
        removes: Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use crate::ops::{analyze, Context, Operation};
    use std::collections::BTreeMap;

    use super::*;
    use crate::schema::{Column, Constraint, Index};

    fn column(name: &str, data_type: &str, nullable: bool) -> Column {
        Column {
            name: name.to_string(),
            data_type: data_type.to_string(),
            nullable,
            default: None,
            drop_at: None,
        }
    }

    fn strings(items: &[&str]) -> Vec<String> {
        items.iter().map(|s| s.to_string()).collect()
    }

    fn constraint(name: &str, kind: ConstraintKind) -> (String, Constraint) {
        (
            name.to_string(),
            Constraint {
                name: name.to_string(),
                kind,
                validated: false,
            },
        )
    }

    /// users (id PK, email, name); orders (id PK, user_id, amount, ref)
    /// with a foreign key, a CHECK and a unique key, all not yet validated;
    /// events (kind, at, code, user_id) without a primary key.
    fn schema() -> Schema {
        let mut users = Table::new("users");
        users.columns = vec![
            column("id", "integer", false),
            column("email", "text", true),
            column("name", "text", false),
        ];
        users.primary_key = strings(&["id"]);
        users.constraints = BTreeMap::from([constraint(
            "users_pkey",
            ConstraintKind::PrimaryKey {
                columns: strings(&["id"]),
            },
        )]);

        let mut orders = Table::new("orders");
        orders.columns = vec![
            column("id", "integer", false),
            column("user_id", "integer", true),
            column("amount", "integer", true),
            column("ref", "text", true),
        ];
        orders.primary_key = strings(&["id"]);
        orders.constraints = BTreeMap::from([
            constraint(
                "orders_pkey",
                ConstraintKind::PrimaryKey {
                    columns: strings(&["id"]),
                },
            ),
            constraint(
                "orders_user_fk",
                ConstraintKind::ForeignKey {
                    columns: strings(&["user_id"]),
                    ref_table: "users".to_string(),
                    ref_columns: strings(&["id"]),
                },
            ),
            constraint(
                "orders_amount_positive",
                ConstraintKind::Check {
                    expr: "amount > 0".to_string(),
                },
            ),
            constraint(
                "orders_ref_key",
                ConstraintKind::Unique {
                    columns: strings(&["ref"]),
                },
            ),
        ]);

        let mut events = Table::new("events");
        events.columns = vec![
            column("kind", "text", false),
            column("at", "integer", true),
            column("code", "text", false),
            column("user_id", "integer", true),
        ];

        let email_idx = Index {
            name: "users_email_idx".to_string(),
            table: "users".to_string(),
            keys: strings(&["\"email\""]),
            columns: strings(&["email"]),
            unique: false,
            predicate: None,
            drop_at: None,
        };
        Schema {
            version: 1,
            tables: [users, orders, events]
                .into_iter()
                .map(|t| (t.name.clone(), t))
                .collect(),
            indexes: BTreeMap::from([(email_idx.name.clone(), email_idx)]).into(),
            views: BTreeMap::new(),
            ..Schema::default()
        }
    }

    fn run(engine: EngineKind, op: &Operation) -> Result<Analysis, Refusal> {
        let ctx = Context {
            version: 2,
            soft_drop: false,
            backfill_exprs: &[],
            batch_size: 5000,
            fill: None,
        };
        analyze(engine, op, &schema(), &ctx)
    }

    fn fk(
        table: &str,
        name: &str,
        columns: &[&str],
        ref_table: &str,
        ref_columns: &[&str],
        not_valid: bool,
    ) -> Operation {
        Operation::AddForeignKey {
            table: table.to_string(),
            name: name.to_string(),
            fk: ForeignKeySpec {
                columns: strings(columns),
                ref_table: ref_table.to_string(),
                ref_columns: strings(ref_columns),
                actions: Vec::new(),
            },
            not_valid,
        }
    }

    fn user_fk(not_valid: bool) -> Operation {
        fk(
            "orders",
            "orders_user_fk2",
            &["user_id"],
            "users",
            &["id"],
            not_valid,
        )
    }

    fn check(not_valid: bool) -> Operation {
        Operation::AddCheck {
            table: "orders".to_string(),
            name: "orders_amount_small".to_string(),
            expr: "amount < 1000".to_string(),
            not_valid,
        }
    }

    fn unique(table: &str, name: &str, columns: &[&str]) -> Operation {
        Operation::AddUnique {
            table: table.to_string(),
            name: name.to_string(),
            columns: strings(columns),
        }
    }

    fn primary_key(table: &str, columns: &[&str]) -> Operation {
        Operation::AddPrimaryKey {
            table: table.to_string(),
            name: None,
            columns: strings(columns),
        }
    }

    fn validate(name: &str) -> Operation {
        Operation::ValidateConstraint {
            table: "orders".to_string(),
            name: name.to_string(),
        }
    }

    fn drop(name: &str) -> Operation {
        Operation::DropConstraint {
            table: "orders".to_string(),
            name: name.to_string(),
        }
    }

    enum Expect {
        Ok(ChangeClass, &'static str, &'static [(Phase, &'static str)]),
        Refused(&'static str),
    }

    use ChangeClass::{Additive, Subtractive, Transforming, Unsafe};
    use EngineKind::{Mysql, Postgres, Sqlite};
    use Expect::{Ok as Planned, Refused};
    use Phase::{Contract, Expand, Migrate};

    /// Operation → class, rule, and the (phase, key) of each action; or the
    /// refusal's rule.
    #[rustfmt::skip]
    fn cases() -> Vec<(EngineKind, Operation, Expect)> {
        let fk_steps: &[(Phase, &str)] = &[(Expand, "add-not-valid"), (Migrate, "check-orphans"), (Migrate, "validate")];
        let check_steps: &[(Phase, &str)] = &[(Expand, "add-not-valid"), (Migrate, "check-violations"), (Migrate, "validate")];
        let index_steps: &[(Phase, &str)] = &[(Migrate, "check-duplicates"), (Migrate, "build-index"), (Migrate, "add-constraint")];
        let drop_steps: &[(Phase, &str)] = &[(Contract, "drop-constraint")];
        vec![
            // PostgreSQL
            (Postgres, user_fk(false), Planned(Transforming, "pg/add-foreign-key/not-valid-then-validate", fk_steps)),
            (Postgres, user_fk(true), Planned(Additive, "pg/add-foreign-key/not-valid", &[(Expand, "add-not-valid")])),
            (Postgres, fk("orders", "fk", &["user_id"], "people", &["id"], false), Refused("pg/add-foreign-key/not-in-model")),
            (Postgres, fk("orders", "fk", &["user_id"], "events", &[], false), Refused("pg/add-foreign-key/no-referenced-key")),
            (Postgres, fk("orders", "fk", &["user_id", "ref"], "users", &["id"], false), Refused("pg/add-foreign-key/column-count")),
            (Postgres, check(false), Planned(Transforming, "pg/add-check/not-valid-then-validate", check_steps)),
            (Postgres, check(true), Planned(Additive, "pg/add-check/not-valid", &[(Expand, "add-not-valid")])),
            (Postgres, unique("users", "users_email_key", &["email"]), Planned(Unsafe, "pg/add-unique/concurrent-index", index_steps)),
            (Postgres, unique("users", "users_email_idx", &["email"]), Refused("pg/add-unique/name-taken")),
            (Postgres, primary_key("events", &["kind", "code"]), Planned(Unsafe, "pg/add-primary-key/concurrent-index", index_steps)),
            (Postgres, primary_key("events", &["kind", "at"]), Refused("pg/add-primary-key/nullable-column")),
            (Postgres, primary_key("events", &["kind", "nope"]), Refused("pg/add-primary-key/not-in-model")),
            (Postgres, primary_key("orders", &["ref"]), Refused("pg/add-primary-key/exists")),
            (Postgres, validate("orders_user_fk"), Planned(Additive, "pg/validate-constraint/online", &[(Migrate, "check-orphans"), (Migrate, "validate")])),
            (Postgres, validate("orders_amount_positive"), Planned(Additive, "pg/validate-constraint/online", &[(Migrate, "check-violations"), (Migrate, "validate")])),
            (Postgres, validate("orders_ref_key"), Refused("pg/validate-constraint/unique-or-primary-key")),
            (Postgres, validate("nope"), Refused("pg/validate-constraint/not-in-model")),
            (Postgres, drop("orders_user_fk"), Planned(Subtractive, "pg/drop-constraint/contract", drop_steps)),
            // MySQL / MariaDB
            (Mysql, user_fk(false), Planned(Unsafe, "mysql/add-foreign-key/checks-off-inplace", &[(Migrate, "check-orphans"), (Migrate, "add-foreign-key")])),
            (Mysql, user_fk(true), Refused("mysql/add-foreign-key/not-valid")),
            (Mysql, check(false), Refused("mysql/add-check/copy")),
            (Mysql, check(true), Refused("mysql/add-check/not-valid")),
            (Mysql, unique("users", "users_email_key", &["email"]), Planned(Transforming, "mysql/add-unique/check-then-add", &[(Migrate, "check-duplicates"), (Migrate, "add-constraint")])),
            (Mysql, primary_key("events", &["kind", "at"]), Planned(Transforming, "mysql/add-primary-key/check-then-add", &[(Migrate, "check-nulls"), (Migrate, "check-duplicates"), (Migrate, "add-primary-key")])),
            (Mysql, primary_key("orders", &["ref"]), Refused("mysql/add-primary-key/exists")),
            (Mysql, validate("orders_user_fk"), Refused("mysql/validate-constraint/unsupported")),
            (Mysql, drop("orders_user_fk"), Planned(Subtractive, "mysql/drop-constraint/foreign-key", drop_steps)),
            (Mysql, drop("orders_ref_key"), Planned(Subtractive, "mysql/drop-constraint/unique", drop_steps)),
            (Mysql, drop("orders_amount_positive"), Planned(Subtractive, "mysql/drop-constraint/check", drop_steps)),
            (Mysql, drop("orders_pkey"), Refused("mysql/drop-constraint/primary-key")),
            (Mysql, drop("nope"), Refused("mysql/drop-constraint/not-in-model")),
            // SQLite
            (Sqlite, user_fk(false), Planned(Transforming, "sqlite/add-foreign-key/check-then-rebuild", &[(Migrate, "check-orphans"), (Migrate, "add-foreign-key")])),
            (Sqlite, user_fk(true), Refused("sqlite/add-foreign-key/not-valid")),
            (Sqlite, check(false), Planned(Transforming, "sqlite/add-check/check-then-rebuild", &[(Migrate, "check-violations"), (Migrate, "add-check")])),
            (Sqlite, check(true), Refused("sqlite/add-check/not-valid")),
            (Sqlite, unique("users", "users_email_key", &["email"]), Refused("sqlite/add-unique/rebuild")),
            (Sqlite, primary_key("events", &["kind", "code"]), Refused("sqlite/add-primary-key/rebuild")),
            (Sqlite, validate("orders_user_fk"), Refused("sqlite/validate-constraint/unsupported")),
            (Sqlite, drop("orders_user_fk"), Planned(Subtractive, "sqlite/drop-constraint/rebuild", drop_steps)),
            (Sqlite, drop("orders_ref_key"), Planned(Subtractive, "sqlite/drop-constraint/rebuild", drop_steps)),
            (Sqlite, drop("orders_amount_positive"), Planned(Subtractive, "sqlite/drop-constraint/rebuild", drop_steps)),
            (Sqlite, drop("orders_pkey"), Refused("sqlite/drop-constraint/rebuild")),
            (Sqlite, drop("nope"), Refused("sqlite/drop-constraint/not-in-model")),
        ]
    }

    #[test]
    fn classification_rule_phases_and_keys_per_engine() {
        for (engine, op, expect) in cases() {
            let label = format!("{engine} {}", op.subject());
            match (run(engine, &op), expect) {
                (Ok(analysis), Planned(class, rule, steps)) => {
                    assert_eq!(analysis.classification.class, class, "{label}");
                    assert_eq!(analysis.classification.rule, rule, "{label}");
                    let got: Vec<(Phase, &str)> = analysis
                        .actions
                        .iter()
                        .map(|a| (a.phase, a.key.as_str()))
                        .collect();
                    assert_eq!(got, steps, "{label}");
                    assert_eq!(
                        analysis.classification.rewrite.is_some(),
                        class == ChangeClass::Unsafe,
                        "{label}: a rewrite exactly when unsafe as written"
                    );
                }
                (Err(refusal), Refused(rule)) => {
                    assert_eq!(refusal.rule, rule, "{label}");
                    assert!(
                        !refusal.reason.is_empty() && !refusal.help.is_empty(),
                        "{label}"
                    );
                }
                (Ok(analysis), Refused(rule)) => panic!(
                    "{label}: expected refusal {rule}, got {}",
                    analysis.classification.rule
                ),
                (Err(refusal), Planned(_, rule, _)) => {
                    panic!("{label}: expected {rule}, refused {}", refusal.rule)
                }
            }
        }
    }

    #[test]
    fn checks_come_right_before_enforcement_and_mysql_ddl_is_not_transactional() {
        for (engine, op, _) in cases() {
            let Ok(analysis) = run(engine, &op) else {
                continue;
            };
            let label = format!("{engine} {}", op.subject());
            for (i, a) in analysis.actions.iter().enumerate() {
                match &a.step {
                    Step::Check(c) => {
                        assert_eq!(c.kind, CheckKind::Violations, "{label}");
                        assert_eq!(a.phase, Phase::Migrate, "{label}");
                        let next = analysis
                            .actions
                            .get(i + 1)
                            .expect("a check guards a later step");
                        assert_eq!(next.phase, Phase::Migrate, "{label}");
                        assert!(c.count_sql.starts_with("SELECT COUNT(*) "), "{label}");
                        assert!(
                            c.sample_sql
                                .as_deref()
                                .is_some_and(|s| s.ends_with(" LIMIT 5")),
                            "{label}"
                        );
                    }
                    Step::Sql(s) => {
                        if engine == Mysql || s.statements[0].contains("CONCURRENTLY") {
                            assert!(!s.transactional, "{label} {}", a.key);
                        }
                        assert_ne!(s.effect, Effect::RecordedOnly, "{label}");
                    }
                    Step::Backfill(_) => panic!("{label}: constraints add no backfill"),
                    Step::Rebuild(r) => {
                        assert_eq!(engine, Sqlite, "{label}: only SQLite rebuilds");
                        assert!(!r.edits.is_empty(), "{label}");
                    }
                }
            }
        }
    }

    fn sql_step(action: &Action) -> &SqlStep {
        match &action.step {
            Step::Sql(s) => s,
            other => panic!("{}: expected SQL, got {other:?}", action.key),
        }
    }

    fn check_step(action: &Action) -> &CheckStep {
        match &action.step {
            Step::Check(c) => c,
            other => panic!("{}: expected a check, got {other:?}", action.key),
        }
    }

    #[test]
    fn postgres_foreign_key_is_added_not_valid_then_validated() {
        let mut op = user_fk(false);
        if let Operation::AddForeignKey { fk, .. } = &mut op {
            fk.actions = strings(&["ON DELETE CASCADE"]);
        }
        let analysis = run(Postgres, &op).unwrap();
        let [add, orphans, validate] = analysis.actions.as_slice() else {
            panic!("three actions")
        };

        let add_sql = sql_step(add);
        assert_eq!(
            add_sql.statements,
            ["ALTER TABLE \"orders\" ADD CONSTRAINT \"orders_user_fk2\" FOREIGN KEY (\"user_id\") REFERENCES \"users\" (\"id\") ON DELETE CASCADE NOT VALID"]
        );
        assert!(add_sql.transactional);
        assert_eq!(
            add_sql.effect,
            Effect::ConstraintExists {
                table: "orders".into(),
                constraint: "orders_user_fk2".into()
            }
        );
        assert_eq!(
            add.creates,
            [ObjectRef::Constraint {
                table: "orders".into(),
                name: "orders_user_fk2".into()
            }]
        );
        assert_eq!(
            add.needs,
            [
                ObjectRef::table("orders"),
                ObjectRef::column("orders", "user_id"),
                ObjectRef::table("users"),
                ObjectRef::column("users", "id"),
            ]
        );

        let check = check_step(orphans);
        assert_eq!(
            check.count_sql,
            "SELECT COUNT(*) FROM \"orders\" AS \"zd_child\" WHERE \"zd_child\".\"user_id\" IS NOT NULL AND NOT EXISTS (SELECT 1 FROM \"users\" AS \"zd_parent\" WHERE \"zd_parent\".\"id\" = \"zd_child\".\"user_id\")"
        );
        assert_eq!(
            check.sample_sql.as_deref(),
            Some("SELECT \"zd_child\".\"id\" FROM \"orders\" AS \"zd_child\" WHERE \"zd_child\".\"user_id\" IS NOT NULL AND NOT EXISTS (SELECT 1 FROM \"users\" AS \"zd_parent\" WHERE \"zd_parent\".\"id\" = \"zd_child\".\"user_id\") LIMIT 5")
        );

        let validate_sql = sql_step(validate);
        assert_eq!(
            validate_sql.statements,
            ["ALTER TABLE \"orders\" VALIDATE CONSTRAINT \"orders_user_fk2\""]
        );
        assert!(validate_sql.lock.starts_with("SHARE UPDATE EXCLUSIVE"));
        assert_eq!(
            validate_sql.effect,
            Effect::ConstraintValidated {
                table: "orders".into(),
                constraint: "orders_user_fk2".into()
            }
        );
        assert_eq!(
            validate.needs,
            [ObjectRef::Constraint {
                table: "orders".into(),
                name: "orders_user_fk2".into()
            }]
        );
        assert!(analysis
            .classification
            .lock
            .starts_with("SHARE ROW EXCLUSIVE on orders and users"));
    }

    #[test]
    fn mysql_foreign_key_is_added_inplace_with_checks_off_after_an_orphan_check() {
        let analysis = run(Mysql, &user_fk(false)).unwrap();
        let [orphans, add] = analysis.actions.as_slice() else {
            panic!("two actions")
        };
        assert_eq!(
            check_step(orphans).count_sql,
            "SELECT COUNT(*) FROM `orders` AS `zd_child` WHERE `zd_child`.`user_id` IS NOT NULL AND NOT EXISTS (SELECT 1 FROM `users` AS `zd_parent` WHERE `zd_parent`.`id` = `zd_child`.`user_id`)"
        );
        let step = sql_step(add);
        let expected = [
            "SET SESSION foreign_key_checks = 0",
            "ALTER TABLE `orders` ADD CONSTRAINT `orders_user_fk2` FOREIGN KEY (`user_id`) REFERENCES `users` (`id`), ALGORITHM=INPLACE, LOCK=NONE",
            "SET SESSION foreign_key_checks = 1",
        ];
        assert_eq!(step.statements, expected);
        assert!(!step.transactional);
        assert_eq!(
            step.effect,
            Effect::ConstraintExists {
                table: "orders".into(),
                constraint: "orders_user_fk2".into()
            }
        );
        assert_eq!(
            analysis.classification.rewrite.as_deref(),
            Some(expected.join(";\n").as_str())
        );
        assert!(analysis.classification.reason.contains("not re-verified"));
    }

    #[test]
    fn foreign_key_without_referenced_columns_uses_the_primary_key_and_samples_its_own_columns() {
        // events has no primary key: the sample shows the foreign key's columns.
        let analysis = run(
            Postgres,
            &fk(
                "events",
                "events_user_fk",
                &["user_id"],
                "users",
                &[],
                false,
            ),
        )
        .unwrap();
        assert_eq!(
            sql_step(&analysis.actions[0]).statements,
            ["ALTER TABLE \"events\" ADD CONSTRAINT \"events_user_fk\" FOREIGN KEY (\"user_id\") REFERENCES \"users\" (\"id\") NOT VALID"]
        );
        assert_eq!(
            check_step(&analysis.actions[1]).sample_sql.as_deref(),
            Some("SELECT \"zd_child\".\"user_id\" FROM \"events\" AS \"zd_child\" WHERE \"zd_child\".\"user_id\" IS NOT NULL AND NOT EXISTS (SELECT 1 FROM \"users\" AS \"zd_parent\" WHERE \"zd_parent\".\"id\" = \"zd_child\".\"user_id\") LIMIT 5")
        );
    }

    #[test]
    fn postgres_unique_is_built_concurrently_then_attached() {
        let analysis = run(Postgres, &unique("users", "users_email_key", &["email"])).unwrap();
        let [dups, build, attach] = analysis.actions.as_slice() else {
            panic!("three actions")
        };

        let check = check_step(dups);
        assert_eq!(
            check.count_sql,
            "SELECT COUNT(*) FROM (SELECT \"email\" FROM \"users\" WHERE \"email\" IS NOT NULL GROUP BY \"email\" HAVING COUNT(*) > 1) AS \"zd_duplicates\""
        );
        assert_eq!(
            check.sample_sql.as_deref(),
            Some("SELECT \"id\" FROM \"users\" WHERE \"email\" IN (SELECT \"email\" FROM \"users\" WHERE \"email\" IS NOT NULL GROUP BY \"email\" HAVING COUNT(*) > 1) ORDER BY \"email\" LIMIT 5")
        );

        let build_sql = sql_step(build);
        assert_eq!(
            build_sql.statements,
            ["CREATE UNIQUE INDEX CONCURRENTLY \"users_email_key\" ON \"users\" (\"email\")"]
        );
        assert!(!build_sql.transactional);
        assert_eq!(
            build_sql.effect,
            Effect::IndexValid {
                index: "users_email_key".into()
            }
        );
        assert_eq!(
            build.creates,
            [ObjectRef::Index {
                name: "users_email_key".into()
            }]
        );

        let attach_sql = sql_step(attach);
        assert_eq!(
            attach_sql.statements,
            ["ALTER TABLE \"users\" ADD CONSTRAINT \"users_email_key\" UNIQUE USING INDEX \"users_email_key\""]
        );
        assert!(attach_sql.transactional);
        assert_eq!(
            attach_sql.effect,
            Effect::ConstraintExists {
                table: "users".into(),
                constraint: "users_email_key".into()
            }
        );
        assert!(attach.needs.contains(&ObjectRef::Index {
            name: "users_email_key".into()
        }));
        assert_eq!(
            analysis.classification.rewrite.as_deref(),
            Some(format!("{};\n{}", build_sql.statements[0], attach_sql.statements[0]).as_str())
        );
        assert!(analysis
            .classification
            .lock
            .starts_with("ACCESS EXCLUSIVE on users"));
    }

    #[test]
    fn postgres_primary_key_takes_the_default_name_for_index_and_constraint() {
        let analysis = run(Postgres, &primary_key("events", &["kind", "code"])).unwrap();
        assert_eq!(
            sql_step(&analysis.actions[1]).statements,
            ["CREATE UNIQUE INDEX CONCURRENTLY \"events_pkey\" ON \"events\" (\"kind\", \"code\")"]
        );
        assert_eq!(
            sql_step(&analysis.actions[2]).statements,
            ["ALTER TABLE \"events\" ADD CONSTRAINT \"events_pkey\" PRIMARY KEY USING INDEX \"events_pkey\""]
        );
    }

    #[test]
    fn duplicates_without_primary_key_sample_the_duplicated_values() {
        let analysis = run(Mysql, &primary_key("events", &["kind", "at"])).unwrap();
        let [nulls, dups, add] = analysis.actions.as_slice() else {
            panic!("three actions")
        };
        let groups = "SELECT `kind`, `at` FROM `events` WHERE `kind` IS NOT NULL AND `at` IS NOT NULL GROUP BY `kind`, `at` HAVING COUNT(*) > 1";
        let check = check_step(dups);
        assert_eq!(
            check.count_sql,
            format!("SELECT COUNT(*) FROM ({groups}) AS `zd_duplicates`")
        );
        assert_eq!(
            check.sample_sql.as_deref(),
            Some(format!("{groups} LIMIT 5").as_str())
        );
        assert_eq!(
            check_step(nulls).count_sql,
            "SELECT COUNT(*) FROM `events` WHERE `kind` IS NULL OR `at` IS NULL"
        );
        let step = sql_step(add);
        assert_eq!(
            step.statements,
            ["ALTER TABLE `events` ADD PRIMARY KEY (`kind`, `at`), ALGORITHM=INPLACE, LOCK=NONE"]
        );
        assert_eq!(
            step.effect,
            Effect::ConstraintExists {
                table: "events".into(),
                constraint: "PRIMARY".into()
            }
        );
    }

    #[test]
    fn duplicates_on_several_columns_with_primary_key_compare_a_row_value() {
        let analysis = run(
            Mysql,
            &unique("orders", "orders_user_ref_key", &["user_id", "ref"]),
        )
        .unwrap();
        assert_eq!(
            check_step(&analysis.actions[0]).sample_sql.as_deref(),
            Some("SELECT `id` FROM `orders` WHERE (`user_id`, `ref`) IN (SELECT `user_id`, `ref` FROM `orders` WHERE `user_id` IS NOT NULL AND `ref` IS NOT NULL GROUP BY `user_id`, `ref` HAVING COUNT(*) > 1) ORDER BY `user_id`, `ref` LIMIT 5")
        );
        assert_eq!(
            sql_step(&analysis.actions[1]).statements,
            ["ALTER TABLE `orders` ADD CONSTRAINT `orders_user_ref_key` UNIQUE (`user_id`, `ref`), ALGORITHM=INPLACE, LOCK=NONE"]
        );
    }

    #[test]
    fn validating_a_check_counts_rows_where_it_is_false() {
        let analysis = run(Postgres, &validate("orders_amount_positive")).unwrap();
        let check = check_step(&analysis.actions[0]);
        assert_eq!(
            check.count_sql,
            "SELECT COUNT(*) FROM \"orders\" WHERE NOT (amount > 0)"
        );
        assert_eq!(
            check.sample_sql.as_deref(),
            Some("SELECT \"id\" FROM \"orders\" WHERE NOT (amount > 0) LIMIT 5")
        );
        assert_eq!(
            sql_step(&analysis.actions[1]).statements,
            ["ALTER TABLE \"orders\" VALIDATE CONSTRAINT \"orders_amount_positive\""]
        );
    }

    #[test]
    fn drops_use_the_statement_for_the_kind_of_constraint() {
        let cases = [
            (Postgres, "orders_user_fk", "ALTER TABLE \"orders\" DROP CONSTRAINT \"orders_user_fk\""),
            (Mysql, "orders_user_fk", "ALTER TABLE `orders` DROP FOREIGN KEY `orders_user_fk`, ALGORITHM=INPLACE, LOCK=NONE"),
            (Mysql, "orders_ref_key", "ALTER TABLE `orders` DROP INDEX `orders_ref_key`, ALGORITHM=INPLACE, LOCK=NONE"),
            (Mysql, "orders_amount_positive", "ALTER TABLE `orders` DROP CONSTRAINT `orders_amount_positive`, ALGORITHM=INPLACE, LOCK=NONE"),
        ];
        for (engine, name, statement) in cases {
            let analysis = run(engine, &drop(name)).unwrap();
            let action = &analysis.actions[0];
            let step = sql_step(action);
            assert_eq!(step.statements, [statement], "{engine} {name}");
            assert_eq!(
                step.effect,
                Effect::ConstraintAbsent {
                    table: "orders".into(),
                    constraint: name.into()
                }
            );
            assert_eq!(
                action.removes,
                [ObjectRef::Constraint {
                    table: "orders".into(),
                    name: name.into()
                }]
            );
            assert_eq!(action.symbol, Symbol::Remove);
        }
    }
}
