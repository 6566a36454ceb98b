//! The RFC 6962 / Certificate Transparency reference vectors, then properties over
//! every tree of up to 70 leaves.

use std::collections::BTreeMap;

use super::*;

/// Decodes hex test data.
fn hex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

/// Decodes a hex SHA-256 digest.
fn h(s: &str) -> Hash {
    hex(s).try_into().unwrap()
}

// The vectors below are data copied from github.com/transparency-dev/merkle (the
// reference tree behind Certificate Transparency, Apache-2.0):
// - leaves, node hashes and roots: `testonly/constants.go` (`LeafInputs`,
//   `NodeHashes`, `RootHashes`) at commit 417fb0c314750d94e53942e9f92e79b6d35915db;
// - proofs: `proof/verify_test.go` (`inclusionProofs`, `consistencyProofs`) at
//   commit 9ca563d3ac2bab915317cf153ed4f952f6e74c07, before they moved to
//   `testdata/` as JSON. There leaves are numbered from 1; here indexes are from 0.

/// `LeafInputs()`.
const LEAVES: [&str; 8] = [
    "",
    "00",
    "10",
    "2021",
    "3031",
    "40414243",
    "5051525354555657",
    "606162636465666768696a6b6c6d6e6f",
];

/// `RootHashes()` for sizes 1 to 8.
const ROOTS: [&str; 8] = [
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
];

/// `EmptyRootHash()`.
const EMPTY_ROOT: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

/// `NodeHashes()`: every perfect subtree of the 8-leaf tree, by level then index.
const NODES: [&[&str]; 4] = [
    &[
        "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
        "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
        "0298d122906dcfc10892cb53a73992fc5b9f493ea4c9badb27b791b4127a7fe7",
        "07506a85fd9dd2f120eb694f86011e5bb4662e5c415a62917033d4a9624487e7",
        "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
        "4271a26be0d8a84f0bd54c8c302e7cb3a3b5d1fa6780a40bcce2873477dab658",
        "b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f",
        "46f6ffadd3d06a09ff3c5860d2755c8b9819db7df44251788c7d8e3180de8eb1",
    ],
    &[
        "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
        "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
        "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
        "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
    ],
    &[
        "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
    ],
    &["5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328"],
];

/// `inclusionProofs`: (leaf index from 0, tree size, proof).
const INCLUSION_PROOFS: &[(u64, u64, &[&str])] = &[
    (0, 1, &[]),
    (
        0,
        8,
        &[
            "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
        ],
    ),
    (
        5,
        8,
        &[
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        ],
    ),
    (
        2,
        3,
        &["fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"],
    ),
    (
        1,
        5,
        &[
            "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
        ],
    ),
];

/// `consistencyProofs`: (old size, new size, proof).
const CONSISTENCY_PROOFS: &[(u64, u64, &[&str])] = &[
    (1, 1, &[]),
    (
        1,
        8,
        &[
            "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
        ],
    ),
    (
        6,
        8,
        &[
            "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        ],
    ),
    (
        2,
        5,
        &[
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
        ],
    ),
    (
        6,
        7,
        &[
            "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
            "b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        ],
    ),
];

/// The reference tree: its 8 leaf hashes, and every node `append` returned.
fn reference_tree() -> (Vec<Hash>, BTreeMap<NodeId, Hash>) {
    let leaves: Vec<Hash> = LEAVES.iter().map(|l| leaf_hash(&hex(l))).collect();
    let mut frontier = Frontier::new();
    let mut store = BTreeMap::new();
    for leaf in &leaves {
        store.extend(frontier.append(*leaf));
    }
    (leaves, store)
}

#[test]
fn the_empty_tree_has_the_published_root() {
    assert_eq!(empty_root(), h(EMPTY_ROOT));
    assert_eq!(root_from_leaves(&[]), h(EMPTY_ROOT));
    assert_eq!(Frontier::new().root(), h(EMPTY_ROOT));
}

#[test]
fn the_reference_leaves_give_the_published_roots_for_every_size() {
    let leaves: Vec<Hash> = LEAVES.iter().map(|l| leaf_hash(&hex(l))).collect();
    let mut frontier = Frontier::new();
    for (size, root) in (1..=8).zip(ROOTS) {
        frontier.append(leaves[size - 1]);
        assert_eq!(root_from_leaves(&leaves[..size]), h(root), "size {size}");
        assert_eq!(frontier.root(), h(root), "size {size}");
    }
}

#[test]
fn append_returns_exactly_the_published_perfect_subtrees() {
    let (_, store) = reference_tree();
    let published: BTreeMap<NodeId, Hash> = NODES
        .iter()
        .enumerate()
        .flat_map(|(level, hashes)| {
            hashes.iter().enumerate().map(move |(index, hash)| {
                let id = NodeId {
                    level: level as u8,
                    index: index as u64,
                };
                (id, h(hash))
            })
        })
        .collect();
    assert_eq!(store, published);
}

#[test]
fn the_published_inclusion_proofs_are_assembled_and_verify() {
    let (leaves, store) = reference_tree();
    for &(index, size, proof) in INCLUSION_PROOFS {
        let want: Vec<Hash> = proof.iter().map(|p| h(p)).collect();
        let parts = inclusion_parts(index, size).unwrap();
        let got = assemble(&parts, |id| store.get(&id).copied()).unwrap();
        assert_eq!(got, want, "leaf {index} in size {size}");
        let root = h(ROOTS[size as usize - 1]);
        verify_inclusion(&leaves[index as usize], index, size, &want, &root).unwrap();
    }
}

#[test]
fn the_published_consistency_proofs_are_assembled_and_verify() {
    let (_, store) = reference_tree();
    for &(old, new, proof) in CONSISTENCY_PROOFS {
        let want: Vec<Hash> = proof.iter().map(|p| h(p)).collect();
        let parts = consistency_parts(old, new).unwrap();
        let got = assemble(&parts, |id| store.get(&id).copied()).unwrap();
        assert_eq!(got, want, "{old} to {new}");
        let (old_root, new_root) = (h(ROOTS[old as usize - 1]), h(ROOTS[new as usize - 1]));
        verify_consistency(old, new, &old_root, &new_root, &want).unwrap();
    }
}

#[test]
fn a_ragged_proof_element_is_the_fold_of_its_perfect_subtrees() {
    // Leaf 1 of 7: the last element covers leaves 4..7, not a perfect subtree.
    let parts = inclusion_parts(1, 7).unwrap();
    let want = vec![
        ProofPart(vec![NodeId { level: 0, index: 0 }]),
        ProofPart(vec![NodeId { level: 1, index: 1 }]),
        ProofPart(vec![
            NodeId { level: 1, index: 2 },
            NodeId { level: 0, index: 6 },
        ]),
    ];
    assert_eq!(parts, want);
}

#[test]
fn needed_lists_each_node_once_in_order() {
    let mut parts = consistency_parts(3, 7).unwrap();
    parts.extend(inclusion_parts(2, 7).unwrap());
    let ids = needed(&parts);
    let mut sorted = ids.clone();
    sorted.sort();
    sorted.dedup();
    assert_eq!(ids, sorted);
    for part in &parts {
        assert!(part.0.iter().all(|id| ids.contains(id)));
    }
}

#[test]
fn a_node_missing_from_storage_is_named() {
    let (_, mut store) = reference_tree();
    let gone = NodeId { level: 1, index: 1 };
    store.remove(&gone);
    let parts = inclusion_parts(0, 8).unwrap();
    assert_eq!(
        assemble(&parts, |id| store.get(&id).copied()),
        Err(MerkleError::MissingNode(gone))
    );
    assert_eq!(
        assemble(&[ProofPart(vec![])], |_| None),
        Err(MerkleError::EmptyProofPart)
    );
}

#[test]
fn proofs_for_impossible_positions_and_sizes_are_refused() {
    assert_eq!(
        inclusion_parts(3, 3),
        Err(MerkleError::IndexOutOfRange { index: 3, size: 3 })
    );
    assert_eq!(
        inclusion_parts(0, 0),
        Err(MerkleError::IndexOutOfRange { index: 0, size: 0 })
    );
    assert_eq!(
        consistency_parts(5, 4),
        Err(MerkleError::BadSizes { old: 5, new: 4 })
    );
    let root = h(ROOTS[0]);
    assert_eq!(
        verify_inclusion(&root, 1, 1, &[], &root),
        Err(MerkleError::IndexOutOfRange { index: 1, size: 1 })
    );
    assert_eq!(
        verify_consistency(2, 1, &root, &root, &[]),
        Err(MerkleError::BadSizes { old: 2, new: 1 })
    );
}

#[test]
fn equal_sizes_need_the_empty_proof_and_equal_roots() {
    let (a, b) = (h(ROOTS[2]), h(ROOTS[3]));
    assert_eq!(consistency_parts(3, 3), Ok(vec![]));
    assert_eq!(verify_consistency(3, 3, &a, &a, &[]), Ok(()));
    assert_eq!(
        verify_consistency(3, 3, &a, &b, &[]),
        Err(MerkleError::RootMismatch)
    );
    assert_eq!(
        verify_consistency(3, 3, &a, &a, &[a]),
        Err(MerkleError::WrongProofLength {
            expected: 0,
            got: 1
        })
    );
}

#[test]
fn the_empty_tree_is_consistent_with_every_tree_by_the_empty_proof() {
    let empty = empty_root();
    let root = h(ROOTS[4]);
    assert_eq!(consistency_parts(0, 5), Ok(vec![]));
    assert_eq!(verify_consistency(0, 5, &empty, &root, &[]), Ok(()));
    assert_eq!(verify_consistency(0, 0, &empty, &empty, &[]), Ok(()));
    // A checkpoint of size 0 with another root is not the empty tree's.
    assert_eq!(
        verify_consistency(0, 5, &root, &root, &[]),
        Err(MerkleError::OldRootMismatch)
    );
    assert_eq!(
        verify_consistency(0, 0, &empty, &root, &[]),
        Err(MerkleError::RootMismatch)
    );
    assert_eq!(
        verify_consistency(0, 5, &empty, &root, &[root]),
        Err(MerkleError::WrongProofLength {
            expected: 0,
            got: 1
        })
    );
}

#[test]
fn a_different_size_proof_is_the_wrong_length_by_the_rfc_checks() {
    // The proof of leaf 0 in 8 leaves, checked as if the tree had 5: the RFC's
    // `sn == 0` check ends it before any root comparison.
    let (leaves, store) = reference_tree();
    let proof = assemble(&inclusion_parts(0, 8).unwrap(), |id| {
        store.get(&id).copied()
    })
    .unwrap();
    assert_eq!(
        verify_inclusion(&leaves[0], 0, 2, &proof, &h(ROOTS[1])),
        Err(MerkleError::WrongProofLength {
            expected: 1,
            got: 3
        })
    );
    assert_eq!(
        verify_inclusion(&leaves[0], 0, 8, &proof[..2], &h(ROOTS[7])),
        Err(MerkleError::WrongProofLength {
            expected: 3,
            got: 2
        })
    );
    assert_eq!(
        verify_consistency(1, 8, &leaves[0], &h(ROOTS[7]), &[]),
        Err(MerkleError::WrongProofLength {
            expected: 3,
            got: 0
        })
    );
}

#[test]
fn a_frontier_is_rebuilt_from_its_stored_nodes_and_keeps_growing() {
    let mut frontier = Frontier::new();
    let mut store = BTreeMap::new();
    for i in 0u64..13 {
        store.extend(frontier.append(leaf_hash(&i.to_be_bytes())));
    }
    let hashes = Frontier::ids(13).iter().map(|id| store[id]).collect();
    let mut rebuilt = Frontier::from_nodes(13, hashes).unwrap();
    assert_eq!(rebuilt, frontier);
    let next = leaf_hash(b"13");
    assert_eq!(rebuilt.append(next), frontier.append(next));
    assert_eq!(rebuilt.root(), frontier.root());
}

#[test]
fn a_frontier_with_the_wrong_number_of_nodes_is_refused() {
    assert_eq!(
        Frontier::from_nodes(13, vec![empty_root(); 2]),
        Err(MerkleError::WrongFrontierLength {
            size: 13,
            expected: 3,
            got: 2
        })
    );
    assert_eq!(Frontier::from_nodes(0, vec![]), Ok(Frontier::new()));
}

#[test]
fn frontier_ids_are_the_binary_decomposition_of_the_size() {
    assert_eq!(Frontier::ids(0), vec![]);
    assert_eq!(
        Frontier::ids(13),
        vec![
            NodeId { level: 3, index: 0 },
            NodeId { level: 2, index: 2 },
            NodeId {
                level: 0,
                index: 12
            },
        ]
    );
    assert_eq!(Frontier::ids(u64::MAX).len(), 64);
}

/// Every way of tampering with a valid proof that must make it fail.
fn tampered(proof: &[Hash]) -> Vec<Vec<Hash>> {
    let mut out = Vec::new();
    for i in 0..proof.len() {
        for byte in [0, 31] {
            let mut p = proof.to_vec();
            p[i][byte] ^= 0x01;
            out.push(p);
        }
    }
    if let Some((_, shorter)) = proof.split_last() {
        out.push(shorter.to_vec());
    }
    if let Some((_, later)) = proof.split_first() {
        out.push(later.to_vec());
    }
    let mut longer = proof.to_vec();
    longer.push(empty_root());
    out.push(longer);
    let mut preceded = vec![empty_root()];
    preceded.extend_from_slice(proof);
    out.push(preceded);
    if proof.len() >= 2 {
        let mut swapped = proof.to_vec();
        swapped.swap(0, 1);
        out.push(swapped);
    }
    out
}

/// Flips one bit of a hash.
fn flipped(hash: &Hash) -> Hash {
    let mut h = *hash;
    h[7] ^= 0x80;
    h
}

#[test]
fn every_proof_in_trees_up_to_70_leaves_assembles_from_appended_nodes_and_verifies() {
    const MAX: u64 = 70;
    let leaves: Vec<Hash> = (0..=MAX)
        .map(|i| leaf_hash(format!("event {i}").as_bytes()))
        .collect();
    let roots: Vec<Hash> = (0..=MAX as usize + 1)
        .map(|n| root_from_leaves(&leaves[..n.min(leaves.len())]))
        .collect();
    let mut frontier = Frontier::new();
    // Only what `append` returned so far: the nodes of the tree of `size`.
    let mut store: BTreeMap<NodeId, Hash> = BTreeMap::new();

    for size in 1..=MAX {
        let completed = frontier.append(leaves[size as usize - 1]);
        assert_eq!(
            completed[0],
            (
                NodeId {
                    level: 0,
                    index: size - 1
                },
                leaves[size as usize - 1]
            )
        );
        for (id, hash) in completed {
            assert!(store.insert(id, hash).is_none(), "{id} returned twice");
        }
        // Every perfect subtree of the tree, and nothing else: 2n - popcount(n).
        assert_eq!(store.len() as u64, 2 * size - u64::from(size.count_ones()));
        assert!(store.keys().all(|id| (id.index + 1) << id.level <= size));
        let root = roots[size as usize];
        assert_eq!(frontier.size(), size);
        assert_eq!(frontier.root(), root, "size {size}");
        let lookup = |id: NodeId| store.get(&id).copied();

        for index in 0..size {
            let parts = inclusion_parts(index, size).unwrap();
            assert!(needed(&parts).iter().all(|id| store.contains_key(id)));
            let proof = assemble(&parts, lookup).unwrap();
            let leaf = &leaves[index as usize];
            assert_eq!(verify_inclusion(leaf, index, size, &proof, &root), Ok(()));

            let fails = |leaf: &Hash, index: u64, size: u64, proof: &[Hash], root: &Hash| {
                verify_inclusion(leaf, index, size, proof, root).is_err()
            };
            for bad in tampered(&proof) {
                assert!(
                    fails(leaf, index, size, &bad, &root),
                    "leaf {index} of {size}: {bad:?}"
                );
            }
            assert!(fails(&flipped(leaf), index, size, &proof, &root));
            assert!(fails(leaf, index, size, &proof, &flipped(&root)));
            for other in [index.wrapping_sub(1), index + 1, index ^ 2] {
                if other < size && other != index {
                    assert!(
                        fails(leaf, other, size, &proof, &root),
                        "leaf {index} as {other} of {size}"
                    );
                }
            }
            // A tree head of another size has that size's root.
            for other in [size - 1, size + 1, size * 2] {
                if other > index && other <= MAX + 1 && other != size {
                    let other_root = &roots[other as usize];
                    assert!(
                        fails(leaf, index, other, &proof, other_root),
                        "leaf {index} of {size} as {other}"
                    );
                }
            }
        }

        for old in 0..=size {
            let parts = consistency_parts(old, size).unwrap();
            let proof = assemble(&parts, lookup).unwrap();
            let old_root = roots[old as usize];
            assert_eq!(
                verify_consistency(old, size, &old_root, &root, &proof),
                Ok(()),
                "{old} to {size}"
            );

            let fails = |old: u64, new: u64, old_root: &Hash, new_root: &Hash, proof: &[Hash]| {
                verify_consistency(old, new, old_root, new_root, proof).is_err()
            };
            for bad in tampered(&proof) {
                assert!(
                    fails(old, size, &old_root, &root, &bad),
                    "{old} to {size}: {bad:?}"
                );
            }
            assert!(fails(old, size, &flipped(&old_root), &root, &proof));
            if old > 0 {
                assert!(fails(old, size, &old_root, &flipped(&root), &proof));
            }
            for other in [old.wrapping_sub(1), old + 1] {
                // From size 0 and from size 1 the proof into a 1-leaf tree is
                // the same (empty) one, and rightly verifies.
                let same_proof = consistency_parts(other, size)
                    .and_then(|parts| assemble(&parts, lookup))
                    .is_ok_and(|p| p == proof);
                if other >= 1 && other <= size && other != old && !same_proof {
                    assert!(
                        fails(other, size, &roots[other as usize], &root, &proof),
                        "{old} as {other} to {size}"
                    );
                }
            }
            if old > 0 {
                for other in [size - 1, size + 1] {
                    if other >= old && other <= MAX + 1 && other != size {
                        assert!(
                            fails(old, other, &old_root, &roots[other as usize], &proof),
                            "{old} to {size} as {other}"
                        );
                    }
                }
            }
        }
    }
}
