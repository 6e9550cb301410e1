namespace Cinnabar.Server.Replication;

/// <summary>
/// The replication backlog (createReplicationBacklog / feedReplicationBuffer / addReplyReplicationBacklog): the
/// last <see cref="Size"/> bytes of the replication stream in a ring, so a replica that lost its link can continue
/// from the offset it reached (PSYNC → +CONTINUE). Offsets are Redis's: the first byte ever fed has offset 1, and
/// <see cref="FirstByteOffset"/> = master_repl_offset − histlen + 1.
/// </summary>
/// <remarks>
/// Redis shares one block list between the backlog and the replicas' output buffers; here the ring only serves
/// PSYNC and each replica client keeps its own output buffer, which is simpler and costs one copy per replica.
/// </remarks>
public sealed class ReplicationBacklog
{
    byte[] ring;
    int start;          // index in ring of the oldest byte
    public long HistLen;
    public long FirstByteOffset;

    public ReplicationBacklog(long size, long masterReplOffset)
    {
        ring = new byte[Math.Max(16 * 1024, size)];
        FirstByteOffset = masterReplOffset + 1;
    }

    public long Size => ring.Length;

    /// <summary>Appends stream bytes (the caller advances master_repl_offset by the same count).</summary>
    public void Feed(ReadOnlySpan<byte> data)
    {
        if (data.Length >= ring.Length)
        {
            FirstByteOffset += HistLen + data.Length - ring.Length;
            data[^ring.Length..].CopyTo(ring);
            start = 0;
            HistLen = ring.Length;
            return;
        }
        int end = (int)((start + HistLen) % ring.Length);
        int first = Math.Min(data.Length, ring.Length - end);
        data[..first].CopyTo(ring.AsSpan(end));
        data[first..].CopyTo(ring);
        long overflow = HistLen + data.Length - ring.Length;
        if (overflow > 0)
        {
            start = (int)((start + overflow) % ring.Length);
            FirstByteOffset += overflow;
            HistLen = ring.Length;
        }
        else HistLen += data.Length;
    }

    /// <summary>True when every byte from <paramref name="offset"/> on (up to the current end) is still held.</summary>
    public bool Covers(long offset) => offset >= FirstByteOffset && offset <= FirstByteOffset + HistLen;

    /// <summary>Copies the bytes from <paramref name="offset"/> to the end of the history into <paramref name="sink"/>.</summary>
    public void CopyFrom(long offset, Action<ReadOnlySpan<byte>> sink)
    {
        long skip = offset - FirstByteOffset;
        long count = HistLen - skip;
        if (count <= 0) return;
        int from = (int)((start + skip) % ring.Length);
        int first = (int)Math.Min(count, ring.Length - from);
        sink(ring.AsSpan(from, first));
        if (count > first) sink(ring.AsSpan(0, (int)(count - first)));
    }

    /// <summary>CONFIG SET repl-backlog-size: keeps the newest bytes that still fit.</summary>
    public void Resize(long size)
    {
        size = Math.Max(16 * 1024, size);
        if (size == ring.Length) return;
        var old = this;
        var bigger = new byte[size];
        long keep = Math.Min(HistLen, size);
        long keepFrom = FirstByteOffset + HistLen - keep;
        int pos = 0;
        old.CopyFrom(keepFrom, s => { s.CopyTo(bigger.AsSpan(pos)); pos += s.Length; });
        ring = bigger;
        start = 0;
        FirstByteOffset = keepFrom;
        HistLen = keep;
    }
}
