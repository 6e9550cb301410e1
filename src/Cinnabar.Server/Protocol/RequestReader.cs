using System.Buffers;

namespace Cinnabar.Server.Protocol;

public enum ParseResult { NeedMore, Command, Empty, Error }

/// <summary>
/// Owns a connection's receive buffer and parses RESP multibulk and inline requests in place:
/// each argument is an (offset, length) pair into the buffer, so no bytes are copied per command.
/// Parsing resumes where it stopped when a request arrives in several reads. Limits and error texts
/// follow Redis 7.0's processMultibulkBuffer/processInlineBuffer.
/// </summary>
public sealed class RequestReader
{
    public const int InlineMaxSize = 64 * 1024;
    const int UnauthenticatedMaxBulk = 16384;
    const int UnauthenticatedMaxArgs = 10;

    public byte[] Buffer;
    public int Start;   // first unconsumed byte
    public int End;     // one past the last received byte

    int[] argOffsets = new int[16];
    int[] argLengths = new int[16];
    public int ArgCount;

    // Resumable multibulk state.
    int expectedArgs;   // 0 = not inside a multibulk request
    int parsePos;       // where parsing resumes
    long pendingBulkLength = -1;

    public string ErrorText;
    public int CommandStart;    // where the last parsed request began, to re-run it after CLIENT PAUSE

    public RequestReader(int initialSize = 16 * 1024) => Buffer = ArrayPool<byte>.Shared.Rent(initialSize);

    public ReadOnlySpan<byte> Arg(int i) => new(Buffer, argOffsets[i], argLengths[i]);
    public byte[] ArgArray(int i) => Arg(i).ToArray();
    public int ArgLength(int i) => argLengths[i];
    public int Unconsumed => End - Start;
    public int Capacity => Buffer.Length;

    /// <summary>Space to receive into; grows or compacts the buffer so at least <paramref name="min"/> bytes fit.</summary>
    public Span<byte> ReceiveSpace(int min)
    {
        if (Buffer.Length - End < min) MakeRoom(min);
        return Buffer.AsSpan(End);
    }

    /// <summary>How much a read should ask for: the rest of a big bulk argument if one is pending.</summary>
    public int WantedReadSize()
    {
        if (pendingBulkLength >= 32 * 1024)
        {
            long missing = pendingBulkLength + 2 - (End - parsePos);
            if (missing > 0) return (int)Math.Min(missing, int.MaxValue - 64);
        }
        return 16 * 1024;
    }

    void MakeRoom(int min)
    {
        int used = End - Start;
        if (Start > 0 && Buffer.Length - used >= min && used < Buffer.Length / 2)
        {
            Shift(Buffer);
            return;
        }
        long wanted = Math.Max((long)Buffer.Length * 2, (long)used + min);
        var bigger = ArrayPool<byte>.Shared.Rent((int)Math.Min(wanted, Array.MaxLength));
        Shift(bigger);
        ArrayPool<byte>.Shared.Return(Buffer);
        Buffer = bigger;
    }

    void Shift(byte[] target)
    {
        int delta = Start;
        System.Buffer.BlockCopy(Buffer, Start, target, 0, End - Start);
        End -= delta; Start = 0; parsePos -= delta; CommandStart = Math.Max(0, CommandStart - delta);
        if (parsePos < 0) parsePos = 0;
        for (int i = 0; i < ArgCount; i++) argOffsets[i] -= delta;
    }

    /// <summary>Releases a big buffer once the connection is idle, as Redis shrinks its query buffer.</summary>
    public void TrimIfIdle()
    {
        if (Start == End && expectedArgs == 0)
        {
            Start = End = parsePos = 0;
            if (Buffer.Length > 64 * 1024)
            {
                ArrayPool<byte>.Shared.Return(Buffer);
                Buffer = ArrayPool<byte>.Shared.Rent(16 * 1024);
            }
        }
    }

    public void Release()
    {
        if (Buffer != null) ArrayPool<byte>.Shared.Return(Buffer);
        Buffer = null;
    }

    public void Committed(int n) => End += n;

    public void Reset()
    {
        Start = End = parsePos = 0; expectedArgs = 0; ArgCount = 0; pendingBulkLength = -1;
    }

    void AddArg(int offset, int length)
    {
        if (ArgCount == argOffsets.Length)
        {
            Array.Resize(ref argOffsets, ArgCount * 2);
            Array.Resize(ref argLengths, ArgCount * 2);
        }
        argOffsets[ArgCount] = offset;
        argLengths[ArgCount] = length;
        ArgCount++;
    }

    /// <summary>Replaces the arguments with new ones (used by inline parsing, which unescapes in place).</summary>
    public void ClearArgs() => ArgCount = 0;

    /// <summary>
    /// Starts building a request by hand (the script client's redis.call arguments): the buffer is reused,
    /// so a call allocates nothing once it has grown to the largest arguments seen.
    /// </summary>
    public void BeginArgs() => Reset();

    /// <summary>Appends one argument to a request begun with <see cref="BeginArgs"/>.</summary>
    public void AppendArg(ReadOnlySpan<byte> arg)
    {
        if (Buffer.Length - End < arg.Length)
        {
            var bigger = ArrayPool<byte>.Shared.Rent((int)Math.Min(Math.Max((long)Buffer.Length * 2, (long)End + arg.Length), Array.MaxLength));
            System.Buffer.BlockCopy(Buffer, 0, bigger, 0, End);
            ArrayPool<byte>.Shared.Return(Buffer);
            Buffer = bigger;
        }
        arg.CopyTo(Buffer.AsSpan(End));
        AddArg(End, arg.Length);
        End += arg.Length;
    }

    /// <summary>Parses the next request. On Command the arguments are valid until the next call.</summary>
    public ParseResult Next(long protoMaxBulkLen, bool authenticated)
    {
        if (expectedArgs == 0)
        {
            ArgCount = 0;
            parsePos = Start;
            CommandStart = Start;
            if (Start == End) return ParseResult.NeedMore;
            if (Buffer[Start] != (byte)'*') return ParseInline();
            int lineEnd = FindCr(Start);
            if (lineEnd < 0)
            {
                if (End - Start > InlineMaxSize) return Fail("Protocol error: too big mbulk count string");
                return ParseResult.NeedMore;
            }
            if (lineEnd + 1 >= End) return ParseResult.NeedMore;
            if (!Numbers.TryParseInt64(Buffer.AsSpan(Start + 1, lineEnd - Start - 1), out long count) || count > int.MaxValue)
                return Fail("Protocol error: invalid multibulk length");
            if (count > UnauthenticatedMaxArgs && !authenticated)
                return Fail("Protocol error: invalid multibulk length");
            parsePos = lineEnd + 2;
            if (count <= 0)
            {
                Start = parsePos;
                return ParseResult.Empty;
            }
            expectedArgs = (int)count;
            pendingBulkLength = -1;
        }
        while (ArgCount < expectedArgs)
        {
            if (pendingBulkLength < 0)
            {
                if (parsePos >= End) return ParseResult.NeedMore;
                int lineEnd = FindCr(parsePos);
                if (lineEnd < 0)
                {
                    if (End - parsePos > InlineMaxSize) return Fail("Protocol error: too big bulk count string");
                    return ParseResult.NeedMore;
                }
                if (lineEnd + 1 >= End) return ParseResult.NeedMore;
                if (Buffer[parsePos] != (byte)'$')
                    return Fail($"Protocol error: expected '$', got '{(char)Buffer[parsePos]}'");
                if (!Numbers.TryParseInt64(Buffer.AsSpan(parsePos + 1, lineEnd - parsePos - 1), out long len) || len < 0
                    || (!authenticated && len > UnauthenticatedMaxBulk) || len > protoMaxBulkLen || len > Array.MaxLength - 64)
                    return Fail("Protocol error: invalid bulk length");
                parsePos = lineEnd + 2;
                pendingBulkLength = len;
            }
            if (End - parsePos < pendingBulkLength + 2) return ParseResult.NeedMore;
            AddArg(parsePos, (int)pendingBulkLength);
            parsePos += (int)pendingBulkLength + 2;
            pendingBulkLength = -1;
        }
        expectedArgs = 0;
        Start = parsePos;
        return ParseResult.Command;
    }

    /// <summary>
    /// Redis finds line ends with strchr on the query buffer, which stops at a NUL byte: a NUL before the
    /// terminator hides it, and the request waits for more data until the size limit answers instead.
    /// </summary>
    int FindBeforeNul(int from, byte terminator)
    {
        var span = Buffer.AsSpan(from, End - from);
        int i = span.IndexOfAny(terminator, (byte)0);
        return i < 0 || span[i] == 0 ? -1 : from + i;
    }

    int FindCr(int from) => FindBeforeNul(from, (byte)'\r');

    ParseResult Fail(string text)
    {
        ErrorText = text;
        expectedArgs = 0;
        ArgCount = 0;
        Start = End;
        return ParseResult.Error;
    }

    ParseResult ParseInline()
    {
        int nl = FindBeforeNul(Start, (byte)'\n');
        if (nl >= 0) nl -= Start;
        if (nl < 0)
        {
            if (End - Start > InlineMaxSize) return Fail("Protocol error: too big inline request");
            return ParseResult.NeedMore;
        }
        int lineStart = Start, lineEnd = Start + nl;
        Start = lineEnd + 1;
        if (lineEnd > lineStart && Buffer[lineEnd - 1] == (byte)'\r') lineEnd--;
        if (!InlineSplitter.Split(this, lineStart, lineEnd))
            return Fail("Protocol error: unbalanced quotes in request");
        return ArgCount == 0 ? ParseResult.Empty : ParseResult.Command;
    }

    internal void AddInlineArg(int offset, int length) => AddArg(offset, length);
}

/// <summary>Splits an inline request like sdssplitargs: spaces separate, "..." with escapes, '...' with \'.</summary>
static class InlineSplitter
{
    public static bool Split(RequestReader r, int pos, int end)
    {
        byte[] b = r.Buffer;
        r.ClearArgs();
        while (true)
        {
            while (pos < end && IsSpace(b[pos])) pos++;
            if (pos >= end) return true;
            int write = pos, argStart = pos;
            bool inDq = false, inSq = false;
            while (true)
            {
                if (inDq)
                {
                    if (pos >= end) return false;
                    byte ch = b[pos];
                    if (ch == '\\' && pos + 3 < end && b[pos + 1] == 'x' && IsHex(b[pos + 2]) && IsHex(b[pos + 3]))
                    {
                        b[write++] = (byte)(Hex(b[pos + 2]) * 16 + Hex(b[pos + 3]));
                        pos += 4;
                    }
                    else if (ch == '\\' && pos + 1 < end)
                    {
                        pos++;
                        b[write++] = b[pos] switch
                        {
                            (byte)'n' => (byte)'\n', (byte)'r' => (byte)'\r', (byte)'t' => (byte)'\t',
                            (byte)'b' => (byte)'\b', (byte)'a' => (byte)'\a', _ => b[pos],
                        };
                        pos++;
                    }
                    else if (ch == '"')
                    {
                        if (pos + 1 < end && !IsSpace(b[pos + 1])) return false;
                        pos++; break;
                    }
                    else { b[write++] = ch; pos++; }
                }
                else if (inSq)
                {
                    if (pos >= end) return false;
                    byte ch = b[pos];
                    if (ch == '\\' && pos + 1 < end && b[pos + 1] == '\'') { b[write++] = (byte)'\''; pos += 2; }
                    else if (ch == '\'')
                    {
                        if (pos + 1 < end && !IsSpace(b[pos + 1])) return false;
                        pos++; break;
                    }
                    else { b[write++] = ch; pos++; }
                }
                else
                {
                    if (pos >= end) break;
                    byte ch = b[pos];
                    // Inside a token only these end it; \v and \f are ordinary bytes there (sdssplitargs).
                    if (ch == ' ' || ch == '\n' || ch == '\r' || ch == '\t') { pos++; break; }
                    if (ch == '"') { inDq = true; pos++; }
                    else if (ch == '\'') { inSq = true; pos++; }
                    else { b[write++] = ch; pos++; }
                }
            }
            r.AddInlineArg(argStart, write - argStart);
        }
    }

    static bool IsSpace(byte c) => c == ' ' || c == '\n' || c == '\r' || c == '\t' || c == '\v' || c == '\f';
    static bool IsHex(byte c) => (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
    static int Hex(byte c) => c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10;
}
