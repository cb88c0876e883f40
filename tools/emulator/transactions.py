"""DynamoDB transactions and item creation on moto 5.2.5, as DynamoDB documents them.

moto's `transact_write_items` deep-copies every table a transaction names, once per item
of the transaction, and on a cancellation swaps the copies in. The copies hold the
table's whole stream history, so a three-item transaction costs a second once a few
thousand records exist; and a stream reader holding a shard iterator keeps reading the
old shard object after the swap: it never sees another write, and it saw the cancelled
ones. Here a transaction checks every condition before it writes anything (each item
of a transaction is a different item, so no write can change another's condition), and
if applying still fails, it puts back only the items it touched and drops their stream
records. The cancellation reasons are moto's, item by item.

moto's `update_item` that creates an item puts its keys first, which reaches the stream
as a second INSERT holding nothing but the keys; DynamoDB writes one record. Here the
keys-only put is kept off the stream.

`install()` patches moto's classes; the emulator calls it once, before serving.
"""

import copy

from moto.dynamodb.exceptions import (
    ConditionalCheckFailed,
    MockValidationException,
    MultipleTransactionsException,
    TooManyTransactionsException,
    TransactionCanceledException,
    TransactWriteSingleOpException,
)
from moto.dynamodb.comparisons import get_filter_expression
from moto.dynamodb.models import DynamoDBBackend
from moto.dynamodb.models.dynamo_type import DynamoType
from moto.dynamodb.models.table import StreamShard

OPERATIONS = ("ConditionCheck", "Put", "Delete", "Update")

# Set while moto's update_item puts the keys of an item it is creating.
_creating = {"active": False}


def _key_of(backend, op_type, op):
    table = backend.get_table(op["TableName"])
    if op_type == "Put":
        attrs = op["Item"]
        key = {table.hash_key_attr: attrs[table.hash_key_attr]}
        if table.range_key_attr is not None:
            key[table.range_key_attr] = attrs[table.range_key_attr]
        return table, key
    return table, op["Key"]


def _values(table, key):
    hash_value = DynamoType(key[table.hash_key_attr])
    range_value = DynamoType(key[table.range_key_attr]) if table.range_key_attr else None
    return hash_value, range_value


def _condition_holds(op, current):
    expression = op.get("ConditionExpression")
    if expression is None:
        return True
    condition = get_filter_expression(expression, op.get("ExpressionAttributeNames"), op.get("ExpressionAttributeValues"))
    return condition.expr(current)


def transact_write_items(self, transact_items):
    if len(transact_items) > 100:
        raise TooManyTransactionsException()
    seen = set()
    plan = []
    for item in transact_items:
        if len(item) > 1:
            raise TransactWriteSingleOpException
        op_type, op = next(iter(item.items()))
        if op_type not in OPERATIONS:
            raise MockValidationException("Unsupported transaction operation")
        table, key = _key_of(self, op_type, op)
        identity = (op["TableName"], str(dict(sorted(key.items()))))
        if identity in seen:
            raise MultipleTransactionsException()
        seen.add(identity)
        plan.append((op_type, op, table, key))

    # Every condition first: nothing is written unless all hold.
    reasons = []
    for op_type, op, table, key in plan:
        current = self.get_item(op["TableName"], key)
        if _condition_holds(op, current):
            reasons.append((None, None, None))
            continue
        old = None
        if op.get("ReturnValuesOnConditionCheckFailure") == "ALL_OLD" and current:
            old = current.to_json()["Attributes"]
        reasons.append(("ConditionalCheckFailed", ConditionalCheckFailed(item=old).message, old))
    if any(code is not None for code, _, _ in reasons):
        raise TransactionCanceledException(reasons)

    # Then the writes, each item's state and each stream's length kept to put back.
    touched = []
    streams = {}
    errors = []
    for op_type, op, table, key in plan:
        hash_value, range_value = _values(table, key)
        if table.stream_shard is not None and id(table) not in streams:
            streams[id(table)] = (table.stream_shard, len(table.stream_shard.items))
        touched.append((table, hash_value, range_value, copy.deepcopy(table.get_item(hash_value, range_value))))
        try:
            _apply(self, op_type, op, key)
            errors.append((None, None, None))
        except MockValidationException:
            _roll_back(touched, streams)
            raise
        except Exception as e:  # noqa: BLE001 - moto reports any other failure as the item's reason
            errors.append((type(e).__name__, str(e), None))
    if any(code is not None for code, _, _ in errors):
        _roll_back(touched, streams)
        raise TransactionCanceledException(errors)


def _apply(backend, op_type, op, key):
    names, values = op.get("ExpressionAttributeNames"), op.get("ExpressionAttributeValues")
    if op_type == "Put":
        backend.put_item(op["TableName"], op["Item"], expression_attribute_names=names, expression_attribute_values=values)
    elif op_type == "Delete":
        backend.delete_item(op["TableName"], key, expression_attribute_names=names, expression_attribute_values=values)
    elif op_type == "Update":
        backend.update_item(
            op["TableName"],
            key,
            update_expression=op["UpdateExpression"],
            expression_attribute_names=names,
            expression_attribute_values=values,
        )


def _roll_back(touched, streams):
    for table, hash_value, range_value, before in reversed(touched):
        if range_value is not None:
            partition = table.items[hash_value]
            if before is None:
                partition.pop(range_value, None)
            else:
                partition[range_value] = before
        elif before is None:
            table.items.pop(hash_value, None)
        else:
            table.items[hash_value] = before
    for shard, length in streams.values():
        del shard.items[length:]


_update_item = DynamoDBBackend.update_item
_stream_add = StreamShard.add


def update_item(self, table_name, key, *args, **kwargs):
    table = self.get_table(table_name)
    hash_value, range_value = _values(table, key) if table.hash_key_attr in key else (None, None)
    creating = hash_value is not None and table.get_item(hash_value, range_value) is None
    _creating["active"] = creating
    try:
        return _update_item(self, table_name, key, *args, **kwargs)
    finally:
        _creating["active"] = False


def stream_add(self, old, new):
    if _creating["active"] and old is None and new is not None:
        # The keys moto puts before it applies the update: not a write DynamoDB makes.
        _creating["active"] = False
        return None
    return _stream_add(self, old, new)


def install():
    DynamoDBBackend.transact_write_items = transact_write_items
    DynamoDBBackend.update_item = update_item
    StreamShard.add = stream_add
