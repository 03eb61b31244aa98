//! Fair share: how many channels each live node should own.

/// The number of channels a node with capacity `mine` should own when
/// `channels` channels are shared by live nodes of the given `capacities`
/// (its own included): water-filling, so that a small node takes what it can
/// and the rest is split evenly, rounded up, among the others.
///
/// Rounding up means the shares add up to at least `channels` (no channel
/// is left for want of a share) and a node owning its share never has to
/// give one up to a node that owns one less.
///
/// ```
/// use onelive_cluster::fair_share;
/// assert_eq!(fair_share(10, &[100, 100], 100), 5);
/// assert_eq!(fair_share(10, &[100, 100, 100], 100), 4);
/// // A node of capacity 1 takes 1; the other two split the remaining 29.
/// assert_eq!(fair_share(30, &[1, 100, 100], 100), 15);
/// assert_eq!(fair_share(30, &[1, 100, 100], 1), 1);
/// ```
pub fn fair_share(channels: usize, capacities: &[usize], mine: usize) -> usize {
    let mut caps: Vec<usize> = capacities.to_vec();
    if caps.is_empty() {
        caps.push(mine);
    }
    caps.sort_unstable();
    let mut remaining = channels;
    let mut left = caps.len();
    for cap in caps {
        let level = remaining.div_ceil(left);
        if cap >= level {
            return mine.min(level);
        }
        remaining = remaining.saturating_sub(cap);
        left -= 1;
    }
    // Every node is smaller than its even share: each takes its capacity.
    mine
}

#[cfg(test)]
mod tests {
    use super::fair_share;

    #[test]
    fn shares_cover_every_channel_within_capacity() {
        for channels in 0..40 {
            for caps in [vec![5], vec![5, 5], vec![1, 10, 10], vec![3, 3, 3], vec![2, 50]] {
                let shares: Vec<usize> =
                    caps.iter().map(|&c| fair_share(channels, &caps, c)).collect();
                let total: usize = caps.iter().sum();
                for (s, c) in shares.iter().zip(&caps) {
                    assert!(s <= c, "share {s} over capacity {c}");
                }
                let sum: usize = shares.iter().sum();
                assert!(
                    sum >= channels.min(total),
                    "{channels} channels, caps {caps:?}: {shares:?}"
                );
                // Even: two nodes with room differ by at most one.
                let max = shares.iter().max().copied().unwrap_or(0);
                for (s, c) in shares.iter().zip(&caps) {
                    if s < c {
                        assert!(max - s <= 1, "{channels} channels, caps {caps:?}: {shares:?}");
                    }
                }
            }
        }
    }

    #[test]
    fn a_lone_node_takes_up_to_its_capacity() {
        assert_eq!(fair_share(10, &[4], 4), 4);
        assert_eq!(fair_share(3, &[4], 4), 3);
        assert_eq!(fair_share(3, &[], 4), 3);
    }
}
