-- The transparency log (DESIGN.md decision 8): a Merkle tree (RFC 9162 hashing)
-- over every event in commit order, kept by the active relay, so a checkpoint is a
-- signed tree head of constant size and proofs can be served. Leaf i is the i-th
-- event in (transaction_id, global_position) order below the settled horizon; its
-- leaf data is the event's stored content hash (`events.hash`).
--
-- The tree only grows: a leaf or a node, once written, never changes. Leaves are
-- level 0 of `transparency_nodes`; a node (level L, index i) is the perfect subtree
-- over leaves [i * 2^L, (i + 1) * 2^L), written when its last leaf arrives. Every
-- proof is assembled from these.
CREATE TABLE transparency_nodes
(
    level      smallint NOT NULL CHECK (level BETWEEN 0 AND 63),
    node_index bigint   NOT NULL CHECK (node_index >= 0),
    hash       bytea    NOT NULL CHECK (length(hash) = 32),
    PRIMARY KEY (level, node_index)
);

-- Which event each leaf is: by leaf index for proofs, by global position to find an
-- event's leaf.
CREATE TABLE transparency_leaves
(
    leaf_index      bigint PRIMARY KEY CHECK (leaf_index >= 0),
    global_position bigint NOT NULL UNIQUE
);

CREATE FUNCTION transparency_log_is_append_only() RETURNS trigger
    LANGUAGE plpgsql AS
$$
BEGIN
    RAISE EXCEPTION 'the transparency log is append-only: % refused', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END
$$;

CREATE TRIGGER transparency_nodes_append_only
    BEFORE UPDATE OR DELETE ON transparency_nodes
    FOR EACH ROW EXECUTE FUNCTION transparency_log_is_append_only();
CREATE TRIGGER transparency_leaves_append_only
    BEFORE UPDATE OR DELETE ON transparency_leaves
    FOR EACH ROW EXECUTE FUNCTION transparency_log_is_append_only();

-- Witnesses' cosignatures of checkpoints (C2SP tlog-cosignature), served beside
-- the checkpoint they sign. Only a cosignature that verifies with a configured
-- witness key over a stored checkpoint is kept.
CREATE TABLE transparency_cosignatures
(
    tree_size   bigint      NOT NULL,
    witness     text        NOT NULL,
    line        text        NOT NULL,
    received_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tree_size, witness)
);
