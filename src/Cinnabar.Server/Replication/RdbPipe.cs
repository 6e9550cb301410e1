using System.Buffers;
using System.Collections.Concurrent;

namespace Cinnabar.Server.Replication;

/// <summary>
/// Diskless sync's pipe (Redis's rdb_pipe between the child and the parent): the snapshot job's writer thread
/// writes the RDB into it, the event loop takes the chunks out and copies them to every target replica's
/// output at the pace of the slowest one. The writer blocks while more than <see cref="LimitBytes"/> wait, so
/// the job (which stops encoding when its own writer falls behind) is paced by the replicas' sockets.
/// </summary>
public sealed class RdbPipe : Stream
{
    public const long LimitBytes = 8 << 20;

    readonly ConcurrentQueue<(byte[] chunk, int length)> queue = new();
    readonly object gate = new();
    readonly Action wake;
    long queued;
    int wakePosted;
    volatile bool aborted;

    /// <summary>Set by the writer thread after the last byte (the EOF mark) went in.</summary>
    public volatile bool Completed;

    /// <param name="wake">Asks the event loop to drain the pipe soon (called from the writer thread).</param>
    public RdbPipe(Action wake) => this.wake = wake;

    public long QueuedBytes => Volatile.Read(ref queued);
    public bool IsEmpty => queue.IsEmpty;

    public override void Write(byte[] buffer, int offset, int count) => Write(buffer.AsSpan(offset, count));

    public override void Write(ReadOnlySpan<byte> data)
    {
        if (data.Length == 0) return;
        if (aborted) throw new IOException("Diskless rdb transfer aborted");
        var chunk = ArrayPool<byte>.Shared.Rent(data.Length);
        data.CopyTo(chunk);
        queue.Enqueue((chunk, data.Length));
        Interlocked.Add(ref queued, data.Length);
        Wake();
        lock (gate)
        {
            while (Volatile.Read(ref queued) > LimitBytes && !aborted) Monitor.Wait(gate, 200);
        }
        if (aborted) throw new IOException("Diskless rdb transfer aborted");
    }

    void Wake()
    {
        if (Interlocked.Exchange(ref wakePosted, 1) == 0) wake();
    }

    /// <summary>Loop thread: the next chunk (hand it back with <see cref="Release"/>), or false when none waits.</summary>
    public bool TryTake(out byte[] chunk, out int length)
    {
        Volatile.Write(ref wakePosted, 0);
        if (!queue.TryDequeue(out var item)) { chunk = null; length = 0; return false; }
        chunk = item.chunk;
        length = item.length;
        return true;
    }

    public void Release(byte[] chunk, int length)
    {
        ArrayPool<byte>.Shared.Return(chunk);
        if (Interlocked.Add(ref queued, -length) <= LimitBytes)
            lock (gate) Monitor.PulseAll(gate);
    }

    /// <summary>The transfer is cancelled: the writer stops (its next or current write fails) and the queue empties.</summary>
    public void Abort()
    {
        aborted = true;
        lock (gate) Monitor.PulseAll(gate);
        while (queue.TryDequeue(out var item)) ArrayPool<byte>.Shared.Return(item.chunk);
    }

    public override bool CanRead => false;
    public override bool CanSeek => false;
    public override bool CanWrite => true;
    public override long Length => throw new NotSupportedException();
    public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }
    public override void Flush() { }
    public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
    public override void SetLength(long value) => throw new NotSupportedException();
}
