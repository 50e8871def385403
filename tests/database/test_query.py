"""Parsing workload text into QueryShapes: pure, no database."""

from __future__ import annotations

import pytest

from perfpilot.database.catalog import ColumnType
from perfpilot.database.indexdef import (
    IndexDefinition,
    IndexKey,
    create_index_sql,
    index_name,
    normalize_index_key,
)
from perfpilot.database.like_prefix import left_anchored, prefix_key, representative_pattern
from perfpilot.database.query import parse_query
from perfpilot.database.representative import substitute
from perfpilot.database.shape import (
    Bound,
    Disjunction,
    Key,
    ParamBound,
    Predicate,
    PredicateKind,
    QueryShape,
    Rejection,
    StatementKind,
    TableRef,
)

R = TableRef(None, "reservations")
G = TableRef(None, "guests")
EQ, IN, RANGE, IS_NULL = (
    PredicateKind.EQUALITY,
    PredicateKind.IN,
    PredicateKind.RANGE,
    PredicateKind.IS_NULL,
)


def shape(text: str, views: dict[str, str] | None = None) -> QueryShape:
    parsed = parse_query(text, views)
    assert isinstance(parsed, QueryShape), parsed
    return parsed


def kinds(parsed: QueryShape) -> dict[tuple[TableRef | None, str], set[PredicateKind]]:
    found: dict[tuple[TableRef | None, str], set[PredicateKind]] = {}
    for p in parsed.predicates:
        found.setdefault((p.key.table, p.key.label), set()).add(p.kind)
    return found


def test_equality_range_in_and_is_null_on_one_table() -> None:
    parsed = shape(
        "SELECT * FROM reservations WHERE guest_id = $1 AND check_in >= $2 "
        "AND status IN ('booked', 'paid') AND cancelled_at IS NULL AND room_id = ANY($3)"
    )
    assert parsed.kind is StatementKind.SELECT
    assert parsed.tables == (R,)
    assert parsed.param_count == 3
    assert kinds(parsed) == {
        (R, "guest_id"): {EQ},
        (R, "check_in"): {RANGE},
        (R, "status"): {IN},
        (R, "cancelled_at"): {IS_NULL},
        (R, "room_id"): {IN},
    }
    check_in = next(p for p in parsed.predicates if p.key.column == "check_in")
    assert check_in.params == (ParamBound(2, Bound.LOWER),)


def test_constant_on_the_left_flips_the_range() -> None:
    parsed = shape("SELECT id FROM reservations WHERE $1 > check_in")
    (predicate,) = parsed.predicates
    assert predicate == Predicate(Key(R, "check_in"), RANGE, params=(ParamBound(1, Bound.UPPER),))


def test_between_sets_both_bounds() -> None:
    (predicate,) = shape("SELECT 1 FROM reservations WHERE check_in BETWEEN $1 AND $2").predicates
    assert predicate.params == (ParamBound(1, Bound.LOWER), ParamBound(2, Bound.UPPER))


def test_aliases_and_join_conditions_give_equality_on_both_sides() -> None:
    parsed = shape(
        "SELECT r.id FROM reservations r JOIN guests AS g ON g.id = r.guest_id WHERE g.email = $1"
    )
    assert parsed.tables == (R, G)
    joins = {(p.key.table, p.key.column) for p in parsed.predicates if p.from_join}
    assert joins == {(G, "id"), (R, "guest_id")}
    assert Predicate(Key(G, "email"), EQ) in parsed.predicates


def test_comparison_within_one_table_is_not_a_predicate() -> None:
    assert shape("SELECT * FROM reservations WHERE check_out > check_in").predicates == ()


def test_unqualified_column_with_two_tables_keeps_both_as_scope() -> None:
    parsed = shape("SELECT * FROM reservations, guests WHERE guest_id = guests.id AND email = $1")
    email = next(p for p in parsed.predicates if p.key.column == "email")
    assert email.key.table is None
    assert set(email.key.scope) == {R, G}


def test_expression_predicate_is_an_expression_key_without_qualifiers() -> None:
    (predicate,) = shape("SELECT * FROM guests g WHERE lower(g.email) = $1").predicates
    assert predicate.key == Key(G, None, expression="lower(email)")
    assert predicate.kind is EQ


def test_order_by_with_direction_limit_and_group_by() -> None:
    parsed = shape(
        "SELECT guest_id, count(*) FROM reservations GROUP BY guest_id "
        "ORDER BY guest_id DESC, 2 LIMIT 10"
    )
    (ordering,) = parsed.orderings
    assert ordering.limited
    assert [(s.key.column, s.descending) for s in ordering.keys] == [("guest_id", True)]
    assert parsed.group_by == (Key(R, "guest_id"),)


def test_order_by_output_alias_resolves_to_the_column() -> None:
    parsed = shape("SELECT created_at AS c FROM guests ORDER BY c")
    assert parsed.orderings[0].keys[0].key == Key(G, "created_at")


def test_update_and_delete_where() -> None:
    update = shape("UPDATE reservations SET status = $1 WHERE id = $2")
    assert update.kind is StatementKind.UPDATE
    assert kinds(update) == {(R, "id"): {EQ}}
    delete = shape(
        "DELETE FROM reservations r USING guests g WHERE r.guest_id = g.id AND g.email = $1"
    )
    assert delete.kind is StatementKind.DELETE
    assert kinds(delete) == {(R, "guest_id"): {EQ}, (G, "id"): {EQ}, (G, "email"): {EQ}}


def test_cte_columns_map_to_the_base_table() -> None:
    parsed = shape(
        "WITH recent AS (SELECT id, guest_id AS gid FROM reservations WHERE check_in > $1) "
        "SELECT * FROM recent WHERE gid = $2"
    )
    assert parsed.tables == (R,)
    assert kinds(parsed) == {(R, "check_in"): {RANGE}, (R, "guest_id"): {EQ}}


def test_subquery_in_from_and_in_where() -> None:
    parsed = shape(
        "SELECT * FROM (SELECT * FROM guests WHERE country = $1) AS s "
        "WHERE s.id IN (SELECT guest_id FROM reservations WHERE room_id = $2)"
    )
    assert kinds(parsed) == {
        (G, "country"): {EQ},
        (G, "id"): {IN},
        (R, "room_id"): {EQ},
    }


def test_view_is_expanded_to_its_base_table() -> None:
    views = {"booked": "SELECT r.id, r.room_id AS room FROM reservations r WHERE r.status = 'b'"}
    parsed = shape("SELECT * FROM booked WHERE room = $1", views)
    assert parsed.tables == (R,)
    assert parsed.views == (TableRef(None, "booked"),)
    assert kinds(parsed) == {(R, "status"): {EQ}, (R, "room_id"): {EQ}}


def test_or_branches_are_a_disjunction_not_predicates() -> None:
    parsed = shape("SELECT * FROM guests WHERE email = $1 OR (country = $2 AND id > $3)")
    assert parsed.predicates == ()
    (found,) = parsed.disjunctions
    assert found == Disjunction(
        (
            (Predicate(Key(G, "email"), EQ),),
            (
                Predicate(Key(G, "country"), EQ),
                Predicate(Key(G, "id"), RANGE, params=(ParamBound(3, Bound.LOWER),)),
            ),
        )
    )


@pytest.mark.parametrize(
    "where",
    [
        "email = $1 OR country <> $2",  # a branch no index serves: the scan stays
        "email = $1 OR id IN (SELECT guest_id FROM reservations WHERE hotel_id = $2)",
    ],
)
def test_or_without_an_indexable_branch_is_not_a_disjunction(where: str) -> None:
    assert shape(f"SELECT * FROM guests WHERE {where}").disjunctions == ()


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("SELECT 1", "reads no table"),
        ("SELECT now(), $1::int", "reads no table"),
        ("SELECT * FROM pg_catalog.pg_class WHERE relname = $1", "catalog-only"),
        ("SELECT count(*) FROM pg_stat_activity", "catalog-only"),
        ("SELECT * FROM information_schema.tables", "catalog-only"),
        ("SELEC * FROM guests", "unparsable"),
        ("VACUUM guests", "utility statement"),
        ("SET search_path = public", "utility statement"),
        ("SELECT 1 FROM guests; SELECT 2 FROM guests", "2 statements"),
    ],
)
def test_rejections_carry_a_reason(text: str, reason: str) -> None:
    parsed = parse_query(text)
    assert isinstance(parsed, Rejection)
    assert reason in parsed.reason


def test_substitute_replaces_and_renumbers_parameters() -> None:
    text, count = substitute(
        "SELECT * FROM reservations WHERE guest_id = $1 AND created_at > $2 AND room_id = $3",
        {2: "2024-05-01"},
    )
    assert count == 2
    assert text == (
        "SELECT * FROM reservations WHERE guest_id = $1 AND created_at > '2024-05-01' "
        "AND room_id = $2"
    )


def test_index_names_are_deterministic_and_fit_63_bytes() -> None:
    short = IndexDefinition(TableRef("public", "Guests"), (IndexKey(None, "lower(email)"),))
    assert index_name(short) == "perfpilot_guests_lower_email_idx"
    long = IndexDefinition(
        TableRef("public", "reservation_" * 4), tuple(IndexKey(f"column_{i}" * 3) for i in range(4))
    )
    name = index_name(long)
    assert len(name.encode()) == 63
    assert name == index_name(long)
    assert name.startswith("perfpilot_reservation_")
    assert name.endswith("_idx")


def test_ddl_quotes_identifiers_that_need_it() -> None:
    index = IndexDefinition(
        TableRef("Hotel Data", "Guests"), (IndexKey("Email"), IndexKey("select", descending=True))
    )
    assert create_index_sql(index, index_name(index), concurrently=True) == (
        'CREATE INDEX CONCURRENTLY perfpilot_guests_email_select_desc_idx ON "Hotel Data"."Guests" '
        '("Email", "select" DESC)'
    )


def test_catalog_key_definitions_normalize_like_parsed_keys() -> None:
    assert normalize_index_key('"Email"') == "Email"
    assert normalize_index_key("lower(email)") == "(lower(email))"


def test_left_anchored_like_is_a_prefix_predicate() -> None:
    parsed = shape(
        "SELECT id FROM guests WHERE last_name LIKE $1::text AND email LIKE 'anna%' "
        "AND city LIKE '%burg' AND country LIKE '_S' AND first_name NOT LIKE 'A%' "
        "AND nickname ILIKE 'bo%'"
    )
    assert parsed.predicates == (
        Predicate(Key(G, "last_name"), PredicateKind.PREFIX, pattern_param=1),
        Predicate(Key(G, "email"), PredicateKind.PREFIX),
    )
    assert not PredicateKind.PREFIX.equality_like


def test_representative_like_pattern_is_an_escaped_prefix_of_the_median() -> None:
    assert representative_pattern(("Abr", "Lind_a", "Zimm"), ()) == "Lin%"
    assert representative_pattern(("a", "50%_off", "z"), ()) == "50\\%%"
    assert representative_pattern((), ("Garcia",)) == "Gar%"
    assert representative_pattern((), ()) is None
    assert left_anchored("abc%")
    assert not left_anchored("%abc")
    assert not left_anchored("")


def test_prefix_key_needs_a_pattern_opclass_unless_the_collation_is_c() -> None:
    assert prefix_key("name", ColumnType("text", c_collation=False)) == IndexKey(
        "name", opclass="text_pattern_ops"
    )
    assert prefix_key("name", ColumnType("varchar", c_collation=False)) == IndexKey(
        "name", opclass="varchar_pattern_ops"
    )
    assert prefix_key("name", ColumnType("text", c_collation=True)) == IndexKey("name")
    assert prefix_key("name", ColumnType("citext", c_collation=False)) is None
    assert prefix_key("name", None) is None


def test_opclass_is_rendered_and_named() -> None:
    index = IndexDefinition(
        TableRef("public", "guests"), (IndexKey("last_name", opclass="text_pattern_ops"),)
    )
    name = index_name(index)
    assert name == "perfpilot_guests_last_name_text_pattern_ops_idx"
    assert name != index_name(IndexDefinition(index.table, (IndexKey("last_name"),)))
    assert create_index_sql(index, name, concurrently=True) == (
        "CREATE INDEX CONCURRENTLY perfpilot_guests_last_name_text_pattern_ops_idx "
        "ON public.guests (last_name text_pattern_ops)"
    )
    assert str(index) == "public.guests (last_name text_pattern_ops)"
