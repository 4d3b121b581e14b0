"""Checks the deployment files against each other and against the code.

- every deploy/iam/*.json parses and is a policy document (Version, statements with Sid,
  Effect, Action, Resource);
- each of them grants, statement by statement (same Sid, same actions), what the managed
  policy of the same role in deploy/cloudformation/axia.yaml grants;
- the DynamoDB table of the template has exactly the layout `axia init` creates
  (crates/adapters/src/dynamodb/keys.rs: key attributes, GSI1-GSI5, projected attributes, TTL).

Run with the virtualenv that has cfn-lint (its template decoder reads the CloudFormation tags):
`python scripts/check_deploy.py`. Prints one line per problem and exits 1 when there is any.
"""

import json
import re
import sys
from pathlib import Path

from cfnlint.decode import decode

ROOT = Path(__file__).resolve().parent.parent
TEMPLATE = ROOT / "deploy/cloudformation/axia.yaml"
IAM_DIR = ROOT / "deploy/iam"
KEYS_RS = ROOT / "crates/adapters/src/dynamodb/keys.rs"

# deploy/iam/<file>.json -> the managed policy resource in the template.
POLICIES = {
    "collector": "CollectorPolicy",
    "compaction": "CompactionPolicy",
    "order-processor": "OrderProcessorPolicy",
    "reader": "ReaderPolicy",
    "operator": "OperatorPolicy",
    "order-submitter": "OrderSubmitterPolicy",
}


def actions(statement):
    action = statement.get("Action", [])
    return sorted([action] if isinstance(action, str) else action)


def grants(document):
    return [(s.get("Sid"), s.get("Effect"), actions(s)) for s in document.get("Statement", [])]


def check_policy_file(path, problems):
    try:
        document = json.loads(path.read_text())
    except (OSError, ValueError) as e:
        problems.append(f"{path}: not JSON: {e}")
        return None
    if document.get("Version") != "2012-10-17":
        problems.append(f"{path}: Version must be 2012-10-17")
    statements = document.get("Statement")
    if not isinstance(statements, list) or not statements:
        problems.append(f"{path}: no Statement list")
        return None
    for i, s in enumerate(statements):
        missing = [k for k in ("Sid", "Effect", "Action", "Resource") if k not in s]
        if missing:
            problems.append(f"{path}: statement {i} lacks {', '.join(missing)}")
    return document


def rust_consts(text):
    return dict(re.findall(r'const (\w+): &str = "([^"]*)";', text))


def check_table(resources, problems):
    text = KEYS_RS.read_text()
    consts = rust_consts(text)
    indexes = re.findall(r'\("(GSI\d)", "(\w+)", "(\w+)"\)', text)
    projected_names = re.search(r"PROJECTED: \[&str; \d+\] = \[([^\]]*)\]", text)
    if not indexes or projected_names is None or not {"PK", "SK", "TTL"} <= consts.keys():
        problems.append(f"{KEYS_RS}: cannot find PK, SK, TTL, INDEXES or PROJECTED")
        return
    projected = sorted(consts[n.strip()] for n in projected_names.group(1).split(",") if n.strip())
    table = resources.get("StateTable", {}).get("Properties", {})
    where = f"{TEMPLATE}: StateTable"

    def keys(schema):
        return [(k["AttributeName"], k["KeyType"]) for k in schema]

    if keys(table.get("KeySchema", [])) != [(consts["PK"], "HASH"), (consts["SK"], "RANGE")]:
        problems.append(f"{where}: KeySchema must be {consts['PK']} HASH, {consts['SK']} RANGE")
    want_attrs = {consts["PK"], consts["SK"]} | {a for _, pk, sk in indexes for a in (pk, sk)}
    attrs = {a["AttributeName"]: a["AttributeType"] for a in table.get("AttributeDefinitions", [])}
    if set(attrs) != want_attrs or any(t != "S" for t in attrs.values()):
        problems.append(f"{where}: AttributeDefinitions must be {sorted(want_attrs)}, all S (got {attrs})")
    got = {g["IndexName"]: g for g in table.get("GlobalSecondaryIndexes", [])}
    if sorted(got) != sorted(name for name, _, _ in indexes):
        problems.append(f"{where}: indexes must be {[n for n, _, _ in indexes]} (got {sorted(got)})")
    for name, pk, sk in indexes:
        index = got.get(name)
        if index is None:
            continue
        if keys(index.get("KeySchema", [])) != [(pk, "HASH"), (sk, "RANGE")]:
            problems.append(f"{where}: {name} must be keyed {pk} HASH, {sk} RANGE")
        projection = index.get("Projection", {})
        if projection.get("ProjectionType") != "INCLUDE" or sorted(projection.get("NonKeyAttributes", [])) != projected:
            problems.append(f"{where}: {name} must project INCLUDE {projected}")
    if table.get("BillingMode") != "PAY_PER_REQUEST":
        problems.append(f"{where}: BillingMode must be PAY_PER_REQUEST")
    ttl = table.get("TimeToLiveSpecification", {})
    if ttl.get("AttributeName") != consts["TTL"] or ttl.get("Enabled") is not True:
        problems.append(f"{where}: TTL must be enabled on {consts['TTL']!r}")


def main():
    problems = []
    template, matches = decode(str(TEMPLATE))
    if template is None:
        print(f"{TEMPLATE}: cannot be read: {matches}")
        return 1
    resources = template.get("Resources", {})
    files = sorted(IAM_DIR.glob("*.json"))
    unknown = [f.name for f in files if f.stem not in POLICIES]
    if unknown:
        problems.append(f"{IAM_DIR}: no managed policy in the template for {', '.join(unknown)}")
    for stem, logical_id in POLICIES.items():
        path = IAM_DIR / f"{stem}.json"
        if not path.is_file():
            problems.append(f"{path}: missing")
            continue
        document = check_policy_file(path, problems)
        resource = resources.get(logical_id)
        if resource is None or resource.get("Type") != "AWS::IAM::ManagedPolicy":
            problems.append(f"{TEMPLATE}: no AWS::IAM::ManagedPolicy {logical_id}")
            continue
        if document is not None:
            ours, theirs = grants(document), grants(resource["Properties"]["PolicyDocument"])
            if ours != theirs:
                problems.append(f"{path} and {logical_id} differ: {ours} vs {theirs}")
    check_table(resources, problems)
    for p in problems:
        print(p)
    if not problems:
        print(f"deploy files OK: {len(POLICIES)} policies match the template; StateTable matches {KEYS_RS.name}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
