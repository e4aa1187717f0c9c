#!/usr/bin/python3
"""test_schemas.py - the event contracts in schemas/ are valid JSON Schema 2020-12 and mean what their
examples say.

For every schemas/<name>.json: the schema itself passes Draft202012Validator.check_schema, its title, $id
and `schema` const name the file, every example embedded in it and every file under
schemas/examples/<name>/valid/ validates, and every file under schemas/examples/<name>/invalid/ is rejected.
Each invalid example is named after the one rule it breaks, so a rejection for another reason would hide
a hole: the test also checks that every error reported for an invalid example comes from a single place
(one instance path). Uses Debian's python3-jsonschema (run with /usr/bin/python3).
"""
import glob
import json
import os
import sys
import unittest

import jsonschema

SOURCE = os.environ.get("AV_SOURCE_DIR", os.path.join(os.path.dirname(__file__), "..", ".."))
SCHEMAS = os.path.join(SOURCE, "schemas")
NAMES = ["apivector.dump-ready.v1", "apivector.result.v1", "apivector.match.v1", "apivector.dead-letter.v1"]
MIN_EXAMPLES = 3


def load_strict(path):
    """Loads JSON refusing NaN/Infinity and duplicate keys, so an example means one thing."""

    def pairs(items):
        keys = [k for k, _ in items]
        if len(keys) != len(set(keys)):
            raise ValueError("%s: duplicate key" % path)
        return dict(items)

    def constant(name):
        raise ValueError("%s: %s is not JSON" % (path, name))

    with open(path, encoding="utf-8") as f:
        return json.load(f, object_pairs_hook=pairs, parse_constant=constant)


def validator(name):
    schema = load_strict(os.path.join(SCHEMAS, name + ".json"))
    return schema, jsonschema.Draft202012Validator(
        schema, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER)


def error_paths(errors):
    """Instance paths of the leaf errors (descending into anyOf/oneOf/if contexts)."""
    paths = set()
    for e in errors:
        if e.context:
            paths |= error_paths(e.context)
        paths.add("/".join(str(p) for p in e.absolute_path))
    return paths


class SchemaTest(unittest.TestCase):
    def test_every_schema_file_is_listed(self):
        found = sorted(os.path.basename(p)[:-5] for p in glob.glob(os.path.join(SCHEMAS, "*.json")))
        self.assertEqual(found, sorted(NAMES))

    def test_schemas_are_valid_2020_12(self):
        for name in NAMES:
            with self.subTest(schema=name):
                schema, _ = validator(name)
                jsonschema.Draft202012Validator.check_schema(schema)
                self.assertEqual(schema["$schema"], "https://json-schema.org/draft/2020-12/schema")
                self.assertEqual(schema["title"], name)
                self.assertTrue(schema["$id"].endswith("/" + name + ".json"), schema["$id"])
                self.assertEqual(schema["properties"]["schema"]["const"], name)
                self.assertFalse(schema["additionalProperties"])
                self.assertIn("schema", schema["required"])
                self.assertGreater(len(schema["description"]), 40)

    def test_embedded_examples_validate(self):
        for name in NAMES:
            schema, v = validator(name)
            self.assertTrue(schema.get("examples"), name + " has no embedded examples")
            for i, doc in enumerate(schema["examples"]):
                with self.subTest(schema=name, example=i):
                    v.validate(doc)

    def test_valid_examples_validate(self):
        for name in NAMES:
            _, v = validator(name)
            files = sorted(glob.glob(os.path.join(SCHEMAS, "examples", name, "valid", "*.json")))
            self.assertGreaterEqual(len(files), MIN_EXAMPLES, name)
            for path in files:
                with self.subTest(example=os.path.relpath(path, SCHEMAS)):
                    errors = list(v.iter_errors(load_strict(path)))
                    self.assertEqual([], [e.message for e in errors])

    def test_invalid_examples_are_rejected_for_one_reason(self):
        for name in NAMES:
            _, v = validator(name)
            files = sorted(glob.glob(os.path.join(SCHEMAS, "examples", name, "invalid", "*.json")))
            self.assertGreaterEqual(len(files), MIN_EXAMPLES, name)
            for path in files:
                with self.subTest(example=os.path.relpath(path, SCHEMAS)):
                    errors = list(v.iter_errors(load_strict(path)))
                    self.assertTrue(errors, "accepted, but it is meant to break a rule")
                    paths = error_paths(errors)
                    # An anyOf/oneOf failure is reported at the parent as well: keep the deepest paths.
                    leaves = {p for p in paths if not any(q != p and q.startswith(p) for q in paths)}
                    self.assertEqual(1, len(leaves), "breaks rules at several places: %s" % sorted(paths))


if __name__ == "__main__":
    result = unittest.main(exit=False, verbosity=2).result
    sys.exit(0 if result.wasSuccessful() else 1)
